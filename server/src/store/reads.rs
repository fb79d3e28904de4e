//! Reads of the model, as model-shaped values. Inputs are bound to dataset versions here: an
//! input without a producer-supplied version reads the version current at the run's time.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{AnyPool, FromRow};
use uuid::Uuid;

use super::dialect::{bind_all_as, Arg};
use super::rows::*;
use super::StoreError;
use crate::model::normalize::{IoKey, IoState};
use crate::model::time::Micros;
use crate::model::FacetState;

/// A dataset and its current state.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub source_name: Option<String>,
    pub dataset_type: Option<String>,
    pub facets: Map<String, Value>,
    pub current_version: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
    pub deleted_at: Option<Micros>,
}

/// One immutable version of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetVersion {
    pub id: String,
    pub dataset_id: String,
    pub producer_version: Option<String>,
    pub created_by_run: Option<String>,
    pub created_at: Micros,
    pub facets: Map<String, Value>,
    pub io_facets: Map<String, Value>,
    pub checksum: String,
    /// Whether the stored checksum matches the one recomputed from the stored row on this read.
    pub checksum_valid: bool,
}

impl DatasetVersion {
    /// The fields of the version's `schema` facet.
    pub fn fields(&self) -> Vec<Value> {
        self.facets
            .get("schema")
            .and_then(|s| s.get("fields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// A job and its current state.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub parent_job_id: Option<String>,
    pub job_type: Option<String>,
    pub facets: Map<String, Value>,
    pub created_at: Micros,
    pub updated_at: Micros,
    pub deleted_at: Option<Micros>,
}

/// A job version: what the job read and wrote, and from when until when that held.
#[derive(Debug, Clone, Serialize)]
pub struct JobVersion {
    pub id: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub location: Option<Value>,
    pub sql: Option<String>,
    pub valid_from: Micros,
    /// When the next version took over; `None` for the current one.
    pub valid_to: Option<Micros>,
    pub defined_by_event: bool,
}

/// A dataset a run read or wrote, bound to a version.
#[derive(Debug, Clone, Serialize)]
pub struct RunIo {
    pub dataset_id: String,
    pub namespace: String,
    pub name: String,
    pub version_id: Option<String>,
    pub facets: Map<String, Value>,
}

/// A run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub uuid: String,
    pub run_id: String,
    pub job_namespace: String,
    pub job_name: String,
    pub job_version_id: Option<String>,
    pub parent_run_uuid: Option<String>,
    pub state: String,
    pub started_at: Option<Micros>,
    pub ended_at: Option<Micros>,
    pub nominal_start: Option<Micros>,
    pub nominal_end: Option<Micros>,
    pub created_at: Micros,
    pub updated_at: Micros,
    pub facets: Map<String, Value>,
    pub job_facets: Map<String, Value>,
    pub inputs: Vec<RunIo>,
    pub outputs: Vec<RunIo>,
}

pub(super) fn dataset_from(r: DatasetRow) -> Dataset {
    Dataset {
        id: r.id,
        namespace: r.namespace,
        name: r.name,
        source_name: r.source_name,
        dataset_type: r.dataset_type,
        facets: FacetState::from_stored(Some(&r.facets)).current(),
        current_version: r.current_version_id,
        created_at: r.created_at,
        updated_at: r.updated_at,
        deleted_at: r.deleted_at,
    }
}

pub(super) async fn dataset(
    pool: &AnyPool,
    namespace: &str,
    name: &str,
) -> Result<Option<Dataset>, StoreError> {
    let sql = format!(
        "SELECT {} FROM datasets d JOIN dataset_names n ON n.dataset_id = d.id WHERE n.namespace = $1 AND n.name = $2",
        DATASET_COLS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ")
    );
    let row = sqlx::query_as::<_, DatasetRow>(&sql)
        .bind(namespace)
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(dataset_from))
}

pub(super) async fn dataset_versions(
    pool: &AnyPool,
    dataset_id: &str,
) -> Result<Vec<DatasetVersion>, StoreError> {
    let sql = format!("SELECT {VERSION_COLS} FROM dataset_versions WHERE dataset_id = $1 ORDER BY created_at DESC, id DESC");
    let rows = sqlx::query_as::<_, VersionRow>(&sql)
        .bind(dataset_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(version_from).collect())
}

pub(super) fn version_from(r: VersionRow) -> DatasetVersion {
    let facets = FacetState::from_stored(Some(&r.facets));
    let recomputed = crate::model::normalize::checksum_of(
        &r.id,
        &r.dataset_id,
        &r.created_by_run,
        &r.producer_version,
        &facets,
    );
    DatasetVersion {
        checksum_valid: recomputed == r.checksum,
        facets: facets.current(),
        io_facets: FacetState::from_stored(Some(&r.io_facets)).current(),
        id: r.id,
        dataset_id: r.dataset_id,
        producer_version: r.producer_version,
        created_by_run: r.created_by_run,
        created_at: r.created_at,
        checksum: r.checksum,
    }
}

pub(super) fn job_from(r: JobRow) -> Job {
    Job {
        id: r.id,
        namespace: r.namespace,
        name: r.name,
        parent_job_id: r.parent_job_id,
        job_type: r.job_type,
        facets: FacetState::from_stored(Some(&r.facets)).current(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        deleted_at: r.deleted_at,
    }
}

pub(super) async fn job(
    pool: &AnyPool,
    namespace: &str,
    name: &str,
) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE namespace = $1 AND name = $2");
    let row = sqlx::query_as::<_, JobRow>(&sql)
        .bind(namespace)
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(job_from))
}

pub(super) async fn job_versions(
    pool: &AnyPool,
    job_id: &str,
) -> Result<Vec<JobVersion>, StoreError> {
    let sql = format!(
        "SELECT {JOB_VERSION_COLS} FROM job_versions WHERE job_id = $1 ORDER BY valid_from, id"
    );
    let rows = sqlx::query_as::<_, JobVersionRow>(&sql)
        .bind(job_id)
        .fetch_all(pool)
        .await?;
    let mut out: Vec<JobVersion> = rows
        .into_iter()
        .map(|r| JobVersion {
            id: r.id,
            inputs: serde_json::from_str(&r.inputs).unwrap_or_default(),
            outputs: serde_json::from_str(&r.outputs).unwrap_or_default(),
            location: r.location.and_then(|l| serde_json::from_str(&l).ok()),
            sql: r.sql,
            valid_from: r.valid_from,
            valid_to: None,
            defined_by_event: r.defined_by_event != 0,
        })
        .collect();
    for i in 1..out.len() {
        out[i - 1].valid_to = Some(out[i].valid_from);
    }
    Ok(out)
}

#[derive(FromRow)]
struct RunHead {
    uuid: String,
    run_id: String,
    job_namespace: String,
    job_name: String,
    job_version_id: Option<String>,
    parent_run_uuid: Option<String>,
    state: String,
    start_time: Option<i64>,
    running_time: Option<i64>,
    terminal_time: Option<i64>,
    nominal_start: Option<i64>,
    nominal_end: Option<i64>,
    created_at: i64,
    updated_at: i64,
    facets: String,
    job_facets: String,
    io: String,
}

/// The version a run's input or output (`io`: `run_uuid`, `dataset_id`, `version_id`,
/// `bind_time`) is bound to: the one the event named, else the version current at the run's time
/// that the run did not write itself.
pub(super) const BOUND_VERSION: &str =
    "COALESCE(io.version_id, (SELECT v.id FROM dataset_versions v WHERE v.dataset_id = io.dataset_id \
     AND v.created_at <= io.bind_time AND (v.created_by_run IS NULL OR v.created_by_run <> io.run_uuid) \
     ORDER BY v.created_at DESC, v.id DESC LIMIT 1))";

const RUN_HEAD: &str =
    "SELECT r.uuid, r.run_id, j.namespace AS job_namespace, j.name AS job_name, \
     r.job_version_id, r.parent_run_uuid, r.state, r.start_time, r.running_time, r.terminal_time, \
     r.nominal_start, r.nominal_end, r.created_at, r.updated_at, r.facets, r.job_facets, r.io \
     FROM runs r JOIN jobs j ON j.id = r.job_id";

/// Runs with their inputs and outputs bound to versions: one query for the runs, one for all
/// their inputs and outputs. `filter` is a SQL condition on `r` using `$1`.
pub(super) async fn runs_where(
    pool: &AnyPool,
    filter: &str,
    args: &[Arg],
    limit: i64,
    offset: i64,
) -> Result<Vec<Run>, StoreError> {
    let n = args.len();
    let sql = format!(
        "{RUN_HEAD} WHERE {filter} ORDER BY COALESCE(r.start_time, r.first_event_time) DESC, r.uuid DESC \
         LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut all = args.to_vec();
    all.push(limit.into());
    all.push(offset.into());
    let heads = bind_all_as(sqlx::query_as::<_, RunHead>(&sql), &all)
        .fetch_all(pool)
        .await?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let mut io = Vec::new();
    for h in &heads {
        io.extend(io_from_stored(&h.uuid, &h.io)?);
    }
    let bound = bind_io(pool, &io).await?;
    let mut by_run: std::collections::HashMap<String, (Vec<RunIo>, Vec<RunIo>)> =
        Default::default();
    for (((run, direction, dataset_id), state), bound) in io.into_iter().zip(bound) {
        // An input or output of a dataset no longer stored is left out, as a join would.
        let Some((namespace, name, version_id)) = bound else {
            continue;
        };
        let item = RunIo {
            dataset_id,
            namespace,
            name,
            version_id,
            facets: state.facets.current(),
        };
        let e = by_run.entry(run).or_default();
        if direction == "in" {
            e.0.push(item)
        } else {
            e.1.push(item)
        }
    }
    for (inputs, outputs) in by_run.values_mut() {
        for list in [inputs, outputs] {
            list.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        }
    }
    Ok(heads
        .into_iter()
        .map(|h| {
            let (inputs, outputs) = by_run.remove(&h.uuid).unwrap_or_default();
            Run {
                uuid: h.uuid,
                run_id: h.run_id,
                job_namespace: h.job_namespace,
                job_name: h.job_name,
                job_version_id: h.job_version_id,
                parent_run_uuid: h.parent_run_uuid,
                state: h.state,
                started_at: h.start_time.or(h.running_time),
                ended_at: h.terminal_time,
                nominal_start: h.nominal_start,
                nominal_end: h.nominal_end,
                created_at: h.created_at,
                updated_at: h.updated_at,
                facets: FacetState::from_stored(Some(&h.facets)).current(),
                job_facets: FacetState::from_stored(Some(&h.job_facets)).current(),
                inputs,
                outputs,
            }
        })
        .collect())
}

/// Each input or output's dataset name and the version it is bound to ([`BOUND_VERSION`]), in
/// the order given; `None` where the dataset is not stored.
async fn bind_io(
    pool: &AnyPool,
    io: &[(IoKey, IoState)],
) -> Result<Vec<Option<(String, String, Option<String>)>>, StoreError> {
    #[derive(FromRow)]
    struct Bound {
        k: i64,
        namespace: String,
        name: String,
        version_id: Option<String>,
    }
    let mut out = vec![None; io.len()];
    const PER_ROW: usize = 5;
    const ROWS: usize = super::dialect::MAX_PARAMS / PER_ROW;
    for (c, chunk) in io.chunks(ROWS).enumerate() {
        let first = c * ROWS;
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = PER_ROW * i;
                format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5
                )
            })
            .collect();
        let args: Vec<Arg> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, ((run, _, dataset), state))| {
                [
                    Arg::from((first + i) as i64),
                    Arg::from(run.clone()),
                    Arg::from(dataset.clone()),
                    Arg::Text(state.version_id.clone()),
                    Arg::from(state.bind_time),
                ]
            })
            .collect();
        let sql = format!(
            "WITH io(k, run_uuid, dataset_id, version_id, bind_time) AS (VALUES {}) \
             SELECT io.k, d.namespace, d.name, {BOUND_VERSION} AS version_id \
             FROM io JOIN datasets d ON d.id = io.dataset_id",
            rows.join(", ")
        );
        for b in bind_all_as(sqlx::query_as::<_, Bound>(&sql), &args)
            .fetch_all(pool)
            .await?
        {
            if let Some(slot) = usize::try_from(b.k).ok().and_then(|k| out.get_mut(k)) {
                *slot = Some((b.namespace, b.name, b.version_id));
            }
        }
    }
    Ok(out)
}

pub(super) async fn run(pool: &AnyPool, run: Uuid) -> Result<Option<Run>, StoreError> {
    Ok(
        runs_where(pool, "r.uuid = $1", &[run.to_string().into()], 1, 0)
            .await?
            .pop(),
    )
}
