//! Listings and the few writes that do not come from events (namespace owners, soft deletes,
//! tags): what the Marquez-compatible REST API reads. Pages are fetched with one query for the
//! page and one per related kind of row, never one per item.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AnyPool, FromRow};

use super::dialect::{bind_all_as, list, Arg};
use super::reads::{self, runs_where, Dataset, Job, Run};
use super::rows::{self, DatasetRow, JobRow, DATASET_COLS, JOB_COLS};
use super::StoreError;
use crate::model::graph::{
    column_edges, ColumnEdge, EdgeSpan, GraphDataset, GraphJob, HistoryFrom, NodeKey,
};
use crate::model::time::{now_micros, Micros};

/// A namespace.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Namespace {
    pub name: String,
    pub created_at: Micros,
    pub updated_at: Micros,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub deleted_at: Option<Micros>,
}

/// A data source (from `dataSource` facets).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Source {
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: Option<String>,
    pub connection_url: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

/// A tag.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Tag {
    pub name: String,
    pub description: Option<String>,
}

/// A job with what listings show beside it.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    pub job: Job,
    pub current_version: Option<String>,
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    pub latest_run: Option<Run>,
    pub tags: Vec<String>,
}

/// Tags of a dataset and of its fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetTags {
    pub dataset: Vec<String>,
    pub fields: HashMap<String, Vec<String>>,
}

/// One search hit.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct SearchHit {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub updated_at: Micros,
}

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub q: String,
    pub datasets: bool,
    pub jobs: bool,
    pub sort_by_name: bool,
    pub namespace: Option<String>,
    pub before: Option<Micros>,
    pub after: Option<Micros>,
    pub limit: i64,
}

async fn count(pool: &AnyPool, sql: &str, args: &[Arg]) -> Result<i64, StoreError> {
    #[derive(FromRow)]
    struct N {
        n: i64,
    }
    Ok(bind_all_as(sqlx::query_as::<_, N>(sql), args)
        .fetch_one(pool)
        .await?
        .n)
}

fn ids(items: &[String]) -> Vec<Arg> {
    items.iter().map(|s| Arg::from(s.as_str())).collect()
}

pub(super) async fn namespaces(
    pool: &AnyPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Namespace>, i64), StoreError> {
    let rows = sqlx::query_as::<_, Namespace>(
        "SELECT name, created_at, updated_at, owner, description, deleted_at FROM namespaces \
         WHERE deleted_at IS NULL ORDER BY name LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = count(
        pool,
        "SELECT COUNT(*) AS n FROM namespaces WHERE deleted_at IS NULL",
        &[],
    )
    .await?;
    Ok((rows, total))
}

pub(super) async fn namespace(pool: &AnyPool, name: &str) -> Result<Option<Namespace>, StoreError> {
    Ok(sqlx::query_as::<_, Namespace>(
        "SELECT name, created_at, updated_at, owner, description, deleted_at FROM namespaces WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

pub(super) async fn put_namespace(
    pool: &AnyPool,
    name: &str,
    owner: Option<&str>,
    description: Option<&str>,
) -> Result<Namespace, StoreError> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO namespaces (name, created_at, updated_at, owner, description) VALUES ($1, $2, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET updated_at = $2, owner = COALESCE($3, namespaces.owner), \
         description = COALESCE($4, namespaces.description), deleted_at = NULL",
    )
    .bind(name)
    .bind(now)
    .bind(owner)
    .bind(description)
    .execute(pool)
    .await?;
    Ok(namespace(pool, name).await?.expect("just written"))
}

/// Soft-deletes a row: it leaves listings until an event names it again.
pub(super) async fn soft_delete(
    pool: &AnyPool,
    table: &str,
    key: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let sql = format!("UPDATE {table} SET deleted_at = $1 WHERE {key} = $2 AND deleted_at IS NULL");
    Ok(sqlx::query(&sql)
        .bind(now_micros())
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

pub(super) async fn sources(
    pool: &AnyPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Source>, i64), StoreError> {
    let rows = sqlx::query_as::<_, Source>(
        "SELECT name, type, connection_url, created_at, updated_at FROM sources ORDER BY name LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((
        rows,
        count(pool, "SELECT COUNT(*) AS n FROM sources", &[]).await?,
    ))
}

pub(super) async fn source(pool: &AnyPool, name: &str) -> Result<Option<Source>, StoreError> {
    Ok(sqlx::query_as::<_, Source>(
        "SELECT name, type, connection_url, created_at, updated_at FROM sources WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

pub(super) async fn datasets(
    pool: &AnyPool,
    ns: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Dataset>, i64), StoreError> {
    let sql = format!(
        "SELECT {DATASET_COLS} FROM datasets WHERE namespace = $1 AND deleted_at IS NULL ORDER BY name LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query_as::<_, DatasetRow>(&sql)
        .bind(ns)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total = count(
        pool,
        "SELECT COUNT(*) AS n FROM datasets WHERE namespace = $1 AND deleted_at IS NULL",
        &[ns.into()],
    )
    .await?;
    Ok((rows.into_iter().map(reads::dataset_from).collect(), total))
}

pub(super) async fn dataset_tags(
    pool: &AnyPool,
    dataset_ids: &[String],
) -> Result<HashMap<String, DatasetTags>, StoreError> {
    let mut out: HashMap<String, DatasetTags> = HashMap::new();
    if dataset_ids.is_empty() {
        return Ok(out);
    }
    #[derive(FromRow)]
    struct T {
        dataset_id: String,
        field: Option<String>,
        tag: String,
    }
    let l = list(dataset_ids.len());
    let sql = format!(
        "SELECT dataset_id, NULL AS field, tag FROM dataset_tags WHERE dataset_id IN ({l}) \
         UNION ALL SELECT dataset_id, field, tag FROM dataset_field_tags WHERE dataset_id IN ({l}) ORDER BY tag"
    );
    for t in bind_all_as(sqlx::query_as::<_, T>(&sql), &ids(dataset_ids))
        .fetch_all(pool)
        .await?
    {
        let e = out.entry(t.dataset_id).or_default();
        match t.field {
            None => e.dataset.push(t.tag),
            Some(f) => e.fields.entry(f).or_default().push(t.tag),
        }
    }
    Ok(out)
}

/// Jobs of a namespace (or all), optionally only those whose latest run is in one of `states`.
pub(super) async fn jobs(
    pool: &AnyPool,
    ns: Option<&str>,
    states: &[String],
    limit: i64,
    offset: i64,
) -> Result<(Vec<JobSummary>, i64), StoreError> {
    let mut filter = String::from("j.deleted_at IS NULL");
    let mut args: Vec<Arg> = Vec::new();
    if let Some(ns) = ns {
        args.push(ns.into());
        filter.push_str(&format!(" AND j.namespace = ${}", args.len()));
    }
    if !states.is_empty() {
        let first = args.len() + 1;
        args.extend(states.iter().map(|s| Arg::from(s.as_str())));
        let placeholders: Vec<String> = (first..=args.len()).map(|i| format!("${i}")).collect();
        filter.push_str(&format!(
            " AND (SELECT r.state FROM runs r WHERE r.job_id = j.id ORDER BY r.first_event_time DESC, r.uuid DESC LIMIT 1) IN ({})",
            placeholders.join(",")
        ));
    }
    let count_sql = format!("SELECT COUNT(*) AS n FROM jobs j WHERE {filter}");
    let cols = JOB_COLS
        .split(", ")
        .map(|c| format!("j.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols} FROM jobs j WHERE {filter} ORDER BY j.namespace, j.name LIMIT ${} OFFSET ${}",
        args.len() + 1,
        args.len() + 2
    );
    let mut page_args = args.clone();
    page_args.push(limit.into());
    page_args.push(offset.into());
    let page = async {
        let rows = bind_all_as(sqlx::query_as::<_, JobRow>(&sql), &page_args)
            .fetch_all(pool)
            .await?;
        summarise_jobs(pool, rows.into_iter().map(reads::job_from).collect()).await
    };
    let (jobs, total) = tokio::try_join!(page, count(pool, &count_sql, &args))?;
    Ok((jobs, total))
}

/// Adds current version inputs/outputs, the latest run and tags to jobs, a few queries in all.
type JobIo = HashMap<String, (Vec<(String, String)>, Vec<(String, String)>)>;

/// Each job's current version, and that version's inputs and outputs by name.
async fn current_versions(
    pool: &AnyPool,
    job_ids: &[String],
) -> Result<(HashMap<String, String>, JobIo), StoreError> {
    #[derive(FromRow)]
    struct Current {
        job_id: String,
        id: String,
        inputs: String,
        outputs: String,
    }
    let sql = format!(
        "SELECT v.job_id, v.id, v.inputs, v.outputs FROM job_versions v WHERE v.job_id IN ({}) \
         AND NOT EXISTS (SELECT 1 FROM job_versions w WHERE w.job_id = v.job_id \
         AND (w.valid_from > v.valid_from OR (w.valid_from = v.valid_from AND w.id > v.id)))",
        list(job_ids.len())
    );
    let rows = bind_all_as(sqlx::query_as::<_, Current>(&sql), &ids(job_ids))
        .fetch_all(pool)
        .await?;
    let mut current = HashMap::new();
    let mut stored = Vec::new();
    for c in rows {
        stored.push(VersionIo::read(c.id.clone(), &c.inputs, &c.outputs)?);
        current.insert(c.job_id, c.id);
    }
    let mut io = JobIo::new();
    for (id, mut inputs, mut outputs) in VersionIo::named(pool, stored).await? {
        inputs.sort();
        outputs.sort();
        io.insert(id, (inputs, outputs));
    }
    Ok((current, io))
}

/// What a job version read and wrote, as stored (dataset ids), for the version `at`.
struct VersionIo<K> {
    at: K,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

/// Datasets by name: `(namespace, name)`.
type Names = Vec<(String, String)>;

impl<K> VersionIo<K> {
    fn read(at: K, inputs: &str, outputs: &str) -> Result<Self, StoreError> {
        Ok(VersionIo {
            at,
            inputs: rows::dataset_ids(inputs)?,
            outputs: rows::dataset_ids(outputs)?,
        })
    }

    /// Each version's inputs and outputs by name (those of stored datasets), the names read in
    /// one query.
    async fn named(
        pool: &AnyPool,
        versions: Vec<Self>,
    ) -> Result<Vec<(K, Names, Names)>, StoreError> {
        let mut wanted: Vec<String> = versions
            .iter()
            .flat_map(|v| v.inputs.iter().chain(&v.outputs))
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        let names = dataset_names(pool, &wanted).await?;
        let of = |ids: &[String]| -> Names {
            ids.iter().filter_map(|id| names.get(id).cloned()).collect()
        };
        Ok(versions
            .into_iter()
            .map(|v| (v.at, of(&v.inputs), of(&v.outputs)))
            .collect())
    }
}

/// Each job's latest run, keyed by (namespace, name), in one round trip for the runs.
async fn latest_runs(
    pool: &AnyPool,
    job_ids: &[String],
) -> Result<HashMap<(String, String), Run>, StoreError> {
    let filter = format!(
        "r.uuid IN (SELECT (SELECT r2.uuid FROM runs r2 WHERE r2.job_id = j.id \
         ORDER BY r2.first_event_time DESC, r2.uuid DESC LIMIT 1) FROM jobs j WHERE j.id IN ({}))",
        list(job_ids.len())
    );
    let runs = runs_where(pool, &filter, &ids(job_ids), job_ids.len() as i64, 0).await?;
    Ok(runs
        .into_iter()
        .map(|r| ((r.job_namespace.clone(), r.job_name.clone()), r))
        .collect())
}

async fn job_tags(
    pool: &AnyPool,
    job_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    #[derive(FromRow)]
    struct T {
        job_id: String,
        tag: String,
    }
    let sql = format!(
        "SELECT job_id, tag FROM job_tags WHERE job_id IN ({}) ORDER BY tag",
        list(job_ids.len())
    );
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for t in bind_all_as(sqlx::query_as::<_, T>(&sql), &ids(job_ids))
        .fetch_all(pool)
        .await?
    {
        tags.entry(t.job_id).or_default().push(t.tag);
    }
    Ok(tags)
}

/// Adds current version inputs/outputs, the latest run and tags to jobs: a few queries in all,
/// run side by side.
pub(super) async fn summarise_jobs(
    pool: &AnyPool,
    jobs: Vec<Job>,
) -> Result<Vec<JobSummary>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let job_ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let ((current, mut io), mut latest, mut tags) = tokio::try_join!(
        current_versions(pool, &job_ids),
        latest_runs(pool, &job_ids),
        job_tags(pool, &job_ids)
    )?;
    Ok(jobs
        .into_iter()
        .map(|job| {
            let current_version = current.get(&job.id).cloned();
            let (inputs, outputs) = current_version
                .as_ref()
                .and_then(|v| io.remove(v))
                .unwrap_or_default();
            JobSummary {
                latest_run: latest.remove(&(job.namespace.clone(), job.name.clone())),
                tags: tags.remove(&job.id).unwrap_or_default(),
                current_version,
                inputs,
                outputs,
                job,
            }
        })
        .collect())
}

pub(super) async fn job_runs(
    pool: &AnyPool,
    job_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Run>, i64), StoreError> {
    let runs = runs_where(pool, "r.job_id = $1", &[job_id.into()], limit, offset).await?;
    let total = count(
        pool,
        "SELECT COUNT(*) AS n FROM runs WHERE job_id = $1",
        &[job_id.into()],
    )
    .await?;
    Ok((runs, total))
}

pub(super) async fn tags(pool: &AnyPool) -> Result<Vec<Tag>, StoreError> {
    Ok(
        sqlx::query_as::<_, Tag>("SELECT name, description FROM tags ORDER BY name")
            .fetch_all(pool)
            .await?,
    )
}

pub(super) async fn put_tag(
    pool: &AnyPool,
    name: &str,
    description: Option<&str>,
) -> Result<Tag, StoreError> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO tags (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (name) DO UPDATE SET description = COALESCE($2, tags.description), updated_at = $3",
    )
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(Tag {
        name: name.to_string(),
        description: description.map(str::to_string),
    })
}

/// Adds or removes a tag on a dataset, a dataset field or a job. Adding creates the tag.
pub(super) async fn set_tag(
    pool: &AnyPool,
    target: TagTarget<'_>,
    tag: &str,
    on: bool,
) -> Result<(), StoreError> {
    let now = now_micros();
    if on {
        sqlx::query("INSERT INTO tags (name, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (name) DO NOTHING")
            .bind(tag)
            .bind(now)
            .execute(pool)
            .await?;
    }
    let (table, keys, values): (&str, &[&str], Vec<&str>) = match target {
        TagTarget::Dataset(id) => ("dataset_tags", &["dataset_id"], vec![id]),
        TagTarget::Field(id, field) => (
            "dataset_field_tags",
            &["dataset_id", "field"],
            vec![id, field],
        ),
        TagTarget::Job(id) => ("job_tags", &["job_id"], vec![id]),
    };
    let mut args: Vec<Arg> = values.iter().map(|v| Arg::from(*v)).collect();
    args.push(tag.into());
    let sql = if on {
        args.push(now.into());
        let cols = keys.join(", ");
        format!(
            "INSERT INTO {table} ({cols}, tag, tagged_at) VALUES ({}) ON CONFLICT DO NOTHING",
            list(keys.len() + 2)
        )
    } else {
        let conds: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ${}", i + 1))
            .collect();
        format!(
            "DELETE FROM {table} WHERE {} AND tag = ${}",
            conds.join(" AND "),
            keys.len() + 1
        )
    };
    super::dialect::bind_all(sqlx::query(&sql), &args)
        .execute(pool)
        .await?;
    Ok(())
}

/// What a tag is put on.
#[derive(Debug, Clone, Copy)]
pub enum TagTarget<'a> {
    Dataset(&'a str),
    Field(&'a str, &'a str),
    Job(&'a str),
}

pub(super) async fn search(
    pool: &AnyPool,
    q: &SearchQuery,
) -> Result<(Vec<SearchHit>, i64), StoreError> {
    let mut args: Vec<Arg> = vec![format!("%{}%", q.q.to_lowercase()).into()];
    let mut cond = String::from("deleted_at IS NULL AND LOWER(name) LIKE $1");
    if let Some(ns) = &q.namespace {
        args.push(ns.as_str().into());
        cond.push_str(&format!(" AND namespace = ${}", args.len()));
    }
    if let Some(b) = q.before {
        args.push(b.into());
        cond.push_str(&format!(" AND updated_at <= ${}", args.len()));
    }
    if let Some(a) = q.after {
        args.push(a.into());
        cond.push_str(&format!(" AND updated_at >= ${}", args.len()));
    }
    let mut parts = Vec::new();
    if q.datasets {
        parts.push(format!(
            "SELECT 'DATASET' AS kind, namespace, name, updated_at FROM datasets WHERE {cond}"
        ));
    }
    if q.jobs {
        parts.push(format!(
            "SELECT 'JOB' AS kind, namespace, name, updated_at FROM jobs WHERE {cond}"
        ));
    }
    let union = parts.join(" UNION ALL ");
    let order = if q.sort_by_name {
        "name, namespace, kind"
    } else {
        "updated_at DESC, name"
    };
    let total = count(
        pool,
        &format!("SELECT COUNT(*) AS n FROM ({union}) hits"),
        &args,
    )
    .await?;
    let sql = format!(
        "SELECT kind, namespace, name, updated_at FROM ({union}) hits ORDER BY {order} LIMIT ${}",
        args.len() + 1
    );
    let mut page_args = args;
    page_args.push(q.limit.into());
    let hits = bind_all_as(sqlx::query_as::<_, SearchHit>(&sql), &page_args)
        .fetch_all(pool)
        .await?;
    Ok((hits, total))
}

/// Namespace and name of datasets by id.
pub(super) async fn dataset_names(
    pool: &AnyPool,
    dataset_ids: &[String],
) -> Result<HashMap<String, (String, String)>, StoreError> {
    if dataset_ids.is_empty() {
        return Ok(HashMap::new());
    }
    #[derive(FromRow)]
    struct N {
        id: String,
        namespace: String,
        name: String,
    }
    let mut names = HashMap::with_capacity(dataset_ids.len());
    for chunk in dataset_ids.chunks(super::dialect::MAX_PARAMS) {
        let sql = format!(
            "SELECT id, namespace, name FROM datasets WHERE id IN ({})",
            list(chunk.len())
        );
        for n in bind_all_as(sqlx::query_as::<_, N>(&sql), &ids(chunk))
            .fetch_all(pool)
            .await?
        {
            names.insert(n.id, (n.namespace, n.name));
        }
    }
    Ok(names)
}

/// What `/stats` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsKind {
    /// Events per bucket by event type (by event time).
    LineageEvents,
    /// Jobs that exist at the end of each bucket.
    Jobs,
    /// Datasets that exist at the end of each bucket.
    Datasets,
    /// Sources that exist at the end of each bucket.
    Sources,
}

/// Counts per bucket of `width` microseconds from `start`: `(bucket, key, count)`, where bucket
/// `-1` holds everything before `start` (for cumulative counts) and `key` is the event type for
/// lineage events and empty otherwise.
pub(super) async fn stats(
    pool: &AnyPool,
    kind: StatsKind,
    start: Micros,
    width: Micros,
    buckets: i64,
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    #[derive(FromRow)]
    struct Row {
        bucket: i64,
        key: Option<String>,
        n: i64,
    }
    let end = start + width * buckets;
    let sql = match kind {
        StatsKind::LineageEvents => {
            "SELECT (event_time - $1) / $2 AS bucket, event_type AS key, COUNT(*) AS n \
             FROM lineage_events WHERE event_time >= $1 AND event_time < $3 GROUP BY 1, 2"
                .to_string()
        }
        StatsKind::Jobs | StatsKind::Datasets | StatsKind::Sources => {
            let table = match kind {
                StatsKind::Jobs => "jobs",
                StatsKind::Datasets => "datasets",
                _ => "sources",
            };
            format!(
                "SELECT CASE WHEN created_at < $1 THEN -1 ELSE (created_at - $1) / $2 END AS bucket, \
                 CAST(NULL AS TEXT) AS key, COUNT(*) AS n FROM {table} WHERE created_at < $3 GROUP BY 1"
            )
        }
    };
    let rows = sqlx::query_as::<_, Row>(&sql)
        .bind(start)
        .bind(width)
        .bind(end)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.bucket, r.key.unwrap_or_default(), r.n))
        .collect())
}

/// `WHERE {column} IN (…)` over the ids of the named (namespace, name) keys, or no filter.
fn key_filter(
    column: &str,
    keys: Option<&[(String, String)]>,
    id: fn(&str, &str) -> uuid::Uuid,
) -> (String, Vec<Arg>) {
    match keys {
        None => (String::new(), Vec::new()),
        Some(keys) => (
            format!("WHERE {column} IN ({})", list(keys.len())),
            keys.iter()
                .map(|(ns, n)| Arg::from(id(ns, n).to_string()))
                .collect(),
        ),
    }
}

/// `(id, since, end)` rows of a `VALUES` list, one per key, and their arguments: the key's id
/// made by `id`, the time its history is read from and the end [`Cuts`] gives it.
///
/// [`Cuts`]: crate::model::graph::Cuts
fn bounds_values(keys: &[HistoryFrom], id: fn(&str, &str) -> uuid::Uuid) -> (String, Vec<Arg>) {
    let rows: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    let args = keys
        .iter()
        .flat_map(|(ns, n, since, end)| {
            [
                Arg::from(id(ns, n).to_string()),
                Arg::from(*since),
                Arg::from(*end),
            ]
        })
        .collect();
    (rows.join(", "), args)
}

/// The named jobs, each with its versions valid from its `since` on (span, inputs, outputs),
/// for the lineage graph; where a job's `end` is given, only up to the first version that begins
/// after `end` (the job's `until`), the last version read ending there. A job with no such
/// version comes back with none; an unknown job does not come back.
pub(super) async fn graph_jobs(
    pool: &AnyPool,
    keys: &[HistoryFrom],
) -> Result<Vec<GraphJob>, StoreError> {
    #[derive(FromRow)]
    struct Row {
        namespace: String,
        name: String,
        deleted_at: Option<i64>,
        since: i64,
        until: Option<i64>,
        valid_from: Option<i64>,
        inputs: Option<String>,
        outputs: Option<String>,
    }
    let mut jobs: Vec<GraphJob> = Vec::new();
    // Each version's inputs and outputs by id, with where it is in `jobs`.
    let mut stored = Vec::new();
    for chunk in keys.chunks(super::dialect::MAX_PARAMS / 3) {
        let (rows, args) = bounds_values(chunk, crate::model::ids::job_id);
        // Versions are joined on the job and its bounds together, so that Postgres finds them
        // in the `(job_id, valid_from)` index instead of reading every version of the job;
        // `until` is one step along the same index (NULL: read to the end).
        let sql = format!(
            "WITH c(id, since, last) AS (VALUES {}), \
             b AS MATERIALIZED (SELECT c.id, c.since, \
             (SELECT v.valid_from FROM job_versions v WHERE v.job_id = c.id \
             AND v.valid_from > c.last ORDER BY v.valid_from LIMIT 1) AS until FROM c) \
             SELECT j.namespace, j.name, j.deleted_at, b.since, b.until, v.valid_from, \
             v.inputs, v.outputs \
             FROM b JOIN jobs j ON j.id = b.id \
             LEFT JOIN job_versions v ON v.job_id = b.id AND v.valid_from >= b.since \
             AND v.valid_from < COALESCE(b.until, {}) \
             ORDER BY j.namespace, j.name, v.valid_from, v.id",
            rows,
            Micros::MAX
        );
        let rows = bind_all_as(sqlx::query_as::<_, Row>(&sql), &args)
            .fetch_all(pool)
            .await?;
        for r in rows {
            let same_job = jobs
                .last()
                .is_some_and(|j| j.namespace == r.namespace && j.name == r.name);
            if !same_job {
                jobs.push(GraphJob {
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                    deleted_at: r.deleted_at,
                    since: r.since,
                    until: r.until.unwrap_or(Micros::MAX),
                    versions: Vec::new(),
                });
            }
            let job_at = jobs.len() - 1;
            let job = jobs.last_mut().expect("pushed above");
            let (Some(valid_from), Some(inputs), Some(outputs)) =
                (r.valid_from, r.inputs, r.outputs)
            else {
                continue;
            };
            // The previous version holds until this one starts.
            if let Some(prev) = job.versions.last_mut() {
                prev.0.to = valid_from;
            }
            job.versions.push((
                EdgeSpan {
                    from: valid_from,
                    to: job.until,
                },
                Vec::new(),
                Vec::new(),
            ));
            let at = (job_at, job.versions.len() - 1);
            stored.push(VersionIo::read(at, &inputs, &outputs)?);
        }
    }
    for ((job, version), inputs, outputs) in VersionIo::named(pool, stored).await? {
        let v = &mut jobs[job].versions[version];
        (v.1, v.2) = (inputs, outputs);
    }
    Ok(jobs)
}

/// Datasets as graph nodes: key, `datasetType`, deletion time; only the named ones when given.
pub(super) async fn graph_datasets(
    pool: &AnyPool,
    keys: Option<&[(String, String)]>,
) -> Result<Vec<GraphDataset>, StoreError> {
    #[derive(FromRow)]
    struct Row {
        namespace: String,
        name: String,
        dataset_type: Option<String>,
        deleted_at: Option<i64>,
    }
    if keys.is_some_and(<[_]>::is_empty) {
        return Ok(Vec::new());
    }
    let (filter, args) = key_filter("id", keys, crate::model::ids::dataset_id);
    let sql = format!("SELECT namespace, name, dataset_type, deleted_at FROM datasets {filter}");
    Ok(bind_all_as(sqlx::query_as::<_, Row>(&sql), &args)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| {
            (
                NodeKey::dataset(&r.namespace, &r.name),
                r.dataset_type,
                r.deleted_at,
            )
        })
        .collect())
}

/// A dataset's column lineage over time from a time on: `(dataset, since, until, [(from,
/// edges)])`, oldest first (no edges where a version had no `columnLineage` facet), the entries
/// that begin before `until` (`Micros::MAX`: all of them, the current one last).
pub type ColumnHistory = (NodeKey, Micros, Micros, Vec<(Micros, Vec<ColumnEdge>)>);

#[derive(FromRow)]
struct ColumnRow {
    namespace: String,
    name: String,
    since: i64,
    until: Option<i64>,
    current_version_time: Option<i64>,
    created_at: Option<i64>,
    facets: Option<String>,
    current: i64,
}

/// The versions that may carry a `columnLineage` facet (a text match, narrowed when read), and
/// the current one.
const HAS_COLUMN_LINEAGE: &str =
    "(v.id = d.current_version_id OR v.facets LIKE '%\"columnLineage\"%')";

/// Rows of one dataset after another as histories, the current version last. The second list
/// names the datasets to read again: whole, where the current version is older than `since`
/// while a newer version carries column lineage (a whole read puts the current one after it);
/// from `since` to the end, where a read up to `until` did not find exactly one entry at
/// `until` (the version there has no column lineage, or several versions share that instant),
/// so that the history from `until` on may not be what the graph holds.
fn column_histories(rows: Vec<ColumnRow>) -> (Vec<ColumnHistory>, Vec<HistoryFrom>) {
    let mut out: Vec<ColumnHistory> = Vec::new();
    let mut whole = Vec::new();
    // Entries found at the `until` of the dataset being read.
    let mut at_until = 0;
    let check_until =
        |out: &[ColumnHistory], whole: &mut Vec<HistoryFrom>, at_until: &mut usize| {
            if let Some((k, since, until, _)) = out.last() {
                if *until != Micros::MAX && *at_until != 1 {
                    whole.push((
                        k.namespace.to_string(),
                        k.name.to_string(),
                        *since,
                        Micros::MAX,
                    ));
                }
            }
            *at_until = 0;
        };
    let mut current: Option<(Micros, Vec<ColumnEdge>)> = None;
    let flush = |out: &mut Vec<ColumnHistory>, current: &mut Option<(Micros, Vec<ColumnEdge>)>| {
        if let (Some(last), Some(c)) = (out.last_mut(), current.take()) {
            last.3.push(c);
        }
    };
    for r in rows {
        let key = NodeKey::dataset(&r.namespace, &r.name);
        if out.last().map(|(k, _, _, _)| k) != Some(&key) {
            flush(&mut out, &mut current);
            check_until(&out, &mut whole, &mut at_until);
            out.push((key, r.since, r.until.unwrap_or(Micros::MAX), Vec::new()));
        }
        let (Some(created_at), Some(facets)) = (r.created_at, r.facets) else {
            continue;
        };
        let facet = crate::model::FacetState::raw_in_stored(&facets, "columnLineage");
        if r.current == 0 && facet.is_none() {
            // The text filter matched the name elsewhere, or a deleted facet: not an entry.
            continue;
        }
        if r.until == Some(created_at) {
            // The first entry of what stays as it is: counted, not read.
            at_until += 1;
            continue;
        }
        let facet = facet.map(|raw| column_edges(raw.get())).unwrap_or_default();
        if r.current != 0 {
            current = Some((created_at, facet));
            continue;
        }
        if r.current_version_time.is_some_and(|t| t < r.since)
            && whole
                .last()
                .is_none_or(|(ns, n, _, _): &HistoryFrom| (ns, n) != (&r.namespace, &r.name))
        {
            whole.push((
                r.namespace.clone(),
                r.name.clone(),
                Micros::MIN,
                Micros::MAX,
            ));
        }
        out.last_mut()
            .expect("pushed above")
            .3
            .push((created_at, facet));
    }
    flush(&mut out, &mut current);
    check_until(&out, &mut whole, &mut at_until);
    (out, whole)
}

/// The column lineage of datasets over time: the versions that carried a `columnLineage` facet
/// and the current version, oldest first (the current one last), each with its `columnLineage`
/// facet or `Null` when it had none. Every dataset that ever had column lineage when `keys` is
/// `None`; else each named dataset (that exists) from its `since` on.
pub(super) async fn graph_columns(
    pool: &AnyPool,
    keys: Option<&[HistoryFrom]>,
) -> Result<Vec<ColumnHistory>, StoreError> {
    let Some(keys) = keys else {
        let sql = format!(
            "SELECT d.namespace, d.name, $1 AS since, CAST(NULL AS BIGINT) AS until, d.current_version_time, \
             v.created_at, \
             v.facets, CASE WHEN v.id = d.current_version_id THEN 1 ELSE 0 END AS current \
             FROM datasets d JOIN dataset_versions v ON v.dataset_id = d.id \
             WHERE {HAS_COLUMN_LINEAGE} ORDER BY d.namespace, d.name, v.created_at, v.id"
        );
        let rows = bind_all_as(
            sqlx::query_as::<_, ColumnRow>(&sql),
            &[Arg::from(Micros::MIN)],
        )
        .fetch_all(pool)
        .await?;
        let (mut out, _) = column_histories(rows);
        // Only datasets that ever had column lineage matter.
        out.retain(|(_, _, _, h)| h.iter().any(|(_, edges)| !edges.is_empty()));
        return Ok(out);
    };
    let mut out = Vec::new();
    let mut keys = keys.to_vec();
    // Twice at most: the second time whole, for the datasets the first read says need it.
    while !keys.is_empty() {
        let mut redo = Vec::new();
        for chunk in keys.chunks(super::dialect::MAX_PARAMS / 3) {
            let (rows, args) = bounds_values(chunk, crate::model::ids::dataset_id);
            // `until`: where the current version comes after the versions the change wrote (up
            // to `end`), the first version after them (one step along the index: a filter on
            // the facets' text here made Postgres read every later version); the history from
            // there on did not change if that version is an entry of it, which the rows read at
            // `until` tell. NULL: read to the end.
            let sql = format!(
                "WITH c(id, since, last) AS (VALUES {}), \
                 b AS MATERIALIZED (SELECT c.id, c.since, \
                 CASE WHEN d.current_version_time > c.last THEN \
                 (SELECT v.created_at FROM dataset_versions v \
                 WHERE v.dataset_id = c.id AND v.created_at > c.last \
                 ORDER BY v.created_at LIMIT 1) \
                 END AS until FROM c JOIN datasets d ON d.id = c.id) \
                 SELECT d.namespace, d.name, b.since, b.until, d.current_version_time, \
                 v.created_at, v.facets, \
                 CASE WHEN v.id = d.current_version_id THEN 1 ELSE 0 END AS current \
                 FROM b JOIN datasets d ON d.id = b.id \
                 LEFT JOIN dataset_versions v ON v.dataset_id = b.id AND v.created_at >= b.since \
                 AND v.created_at <= COALESCE(b.until, {}) AND {HAS_COLUMN_LINEAGE} \
                 ORDER BY d.namespace, d.name, v.created_at, v.id",
                rows,
                Micros::MAX
            );
            let rows = bind_all_as(sqlx::query_as::<_, ColumnRow>(&sql), &args)
                .fetch_all(pool)
                .await?;
            let (histories, whole) = column_histories(rows);
            out.extend(histories.into_iter().filter(|(k, _, _, _)| {
                !whole
                    .iter()
                    .any(|(ns, n, _, _)| (&*k.namespace, &*k.name) == (ns.as_str(), n.as_str()))
            }));
            redo.extend(whole);
        }
        keys = redo;
    }
    Ok(out)
}

/// The state of each job's latest run, by `(namespace, name)` (jobs without runs are left out):
/// one query per 500 jobs.
pub(super) async fn latest_run_states(
    pool: &AnyPool,
    jobs: &[(String, String)],
) -> Result<HashMap<(String, String), String>, StoreError> {
    #[derive(FromRow)]
    struct S {
        namespace: String,
        name: String,
        state: Option<String>,
    }
    let mut states = HashMap::with_capacity(jobs.len());
    for chunk in jobs.chunks(500) {
        let (filter, args) = key_filter("j.id", Some(chunk), crate::model::ids::job_id);
        let sql = format!(
            "SELECT j.namespace, j.name, (SELECT r.state FROM runs r WHERE r.job_id = j.id \
             ORDER BY r.first_event_time DESC, r.uuid DESC LIMIT 1) AS state FROM jobs j {filter}"
        );
        for s in bind_all_as(sqlx::query_as::<_, S>(&sql), &args)
            .fetch_all(pool)
            .await?
        {
            if let Some(state) = s.state {
                states.insert((s.namespace, s.name), state);
            }
        }
    }
    Ok(states)
}

/// Datasets (with their tags) and job summaries by name, for the nodes of a lineage answer: a
/// few queries per 500 names.
pub(super) async fn node_details(
    pool: &AnyPool,
    datasets: &[(String, String)],
    jobs: &[(String, String)],
) -> Result<(Vec<reads::Dataset>, Vec<JobSummary>), StoreError> {
    const CHUNK: usize = 500;
    let mut found_datasets = Vec::with_capacity(datasets.len());
    for chunk in datasets.chunks(CHUNK) {
        let (filter, args) = key_filter("id", Some(chunk), crate::model::ids::dataset_id);
        let sql = format!("SELECT {DATASET_COLS} FROM datasets {filter}");
        let rows = bind_all_as(sqlx::query_as::<_, DatasetRow>(&sql), &args)
            .fetch_all(pool)
            .await?;
        found_datasets.extend(rows.into_iter().map(reads::dataset_from));
    }
    let mut found_jobs = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(CHUNK) {
        let (filter, args) = key_filter("id", Some(chunk), crate::model::ids::job_id);
        let sql = format!("SELECT {JOB_COLS} FROM jobs {filter}");
        let rows = bind_all_as(sqlx::query_as::<_, JobRow>(&sql), &args)
            .fetch_all(pool)
            .await?;
        found_jobs
            .extend(summarise_jobs(pool, rows.into_iter().map(reads::job_from).collect()).await?);
    }
    Ok((found_datasets, found_jobs))
}
