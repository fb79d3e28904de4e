//! Applies a batch of new events to the model tables inside the writer's transaction: load the
//! rows the batch touches, merge the events into them in memory (every merge is commutative, so
//! arrival order does not matter), and write them back with multi-row upserts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::value::RawValue;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow};

use super::dialect::{
    bind_all, bind_all_as, list, rows_per_statement, value_rows_from, Arg, Backend, MAX_PARAMS,
};
use super::rows::*;
use super::{Cuts, StoreError};
use crate::model::canonical::{canonical, sha256_hex};
use crate::model::event::{DatasetRef, EventKind, LineageEvent};
use crate::model::ids::{self, VersionKey};
use crate::model::prepared::PreparedEvent;
use crate::model::time::{self, Micros};
use crate::model::{FacetState, RunTimeline};

/// Tables derived from the event log; `rebuild` empties and refills them.
pub(super) const MODEL_TABLES: &[&str] = &[
    "namespaces",
    "sources",
    "datasets",
    "dataset_names",
    "dataset_versions",
    "jobs",
    "job_versions",
    "job_version_io",
    "runs",
    "run_io",
];

struct DatasetState {
    id: String,
    namespace: String,
    name: String,
    facets: FacetState,
    current: Option<(Micros, String)>,
    created_at: Micros,
    deleted_at: Option<Micros>,
}

struct VersionState {
    id: String,
    dataset_id: String,
    producer_version: Option<String>,
    created_by_run: Option<String>,
    created_at: Micros,
    facets: FacetState,
    io_facets: FacetState,
    /// Only versions a run wrote, a DatasetEvent described, or that the dataset has no other
    /// version than, may become the dataset's current version.
    may_be_current: bool,
}

struct JobState {
    id: String,
    namespace: String,
    name: String,
    parent_job_id: Option<String>,
    facets: FacetState,
    created_at: Micros,
    deleted_at: Option<Micros>,
}

struct RunEntry {
    uuid: String,
    run_id: String,
    job_id: String,
    job_version_id: Option<String>,
    parent_run_uuid: Option<String>,
    timeline: RunTimeline,
    facets: FacetState,
    job_facets: FacetState,
    created_at: Micros,
}

struct IoState {
    /// False for rows loaded only to know a run's whole input and output set.
    dirty: bool,
    version_id: Option<String>,
    bind_time: Micros,
    facets: FacetState,
}

struct JobVersionState {
    id: String,
    job_id: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    location: Option<Value>,
    sql: Option<String>,
    valid_from: Micros,
    defined_by_event: bool,
    created_at: Micros,
}

/// Everything a batch touches, keyed by id.
#[derive(Default)]
struct Batch {
    now: Micros,
    names: HashMap<(String, String), String>,
    new_names: Vec<(String, String, String, Option<String>)>,
    namespaces: BTreeSet<String>,
    sources: BTreeMap<String, Option<String>>,
    datasets: BTreeMap<String, DatasetState>,
    versions: BTreeMap<String, VersionState>,
    jobs: BTreeMap<String, JobState>,
    runs: BTreeMap<String, RunEntry>,
    io: BTreeMap<(String, &'static str, String), IoState>,
    job_versions: BTreeMap<String, JobVersionState>,
}

fn symlinks(d: &DatasetRef) -> Vec<(String, String, Option<String>)> {
    d.facets
        .get("symlinks")
        .and_then(|s| s.get("identifiers"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|i| {
                    Some((
                        i.get("namespace")?.as_str()?.to_string(),
                        i.get("name")?.as_str()?.to_string(),
                        i.get("type").and_then(Value::as_str).map(str::to_string),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn dataset_refs(e: &LineageEvent) -> impl Iterator<Item = &DatasetRef> {
    e.inputs
        .iter()
        .chain(e.outputs.iter())
        .chain(e.dataset.iter())
}

/// The version the producer gave a dataset, as real emitters send it: the `version` facet's
/// `datasetVersion`, the same under the older `datasetVersion` facet key, else the Iceberg
/// snapshot a Spark job committed (`icebergCommitReport`, an output facet) or scanned
/// (`icebergScanReport`, an input facet).
fn producer_version(d: &DatasetRef) -> Option<String> {
    let text = |v: Value| match v {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let declared = |key: &str| {
        d.facets
            .get(key)
            .and_then(|f| f.get("datasetVersion").cloned())
            .and_then(text)
    };
    let snapshot = |key: &str| {
        d.io_facets
            .get(key)
            .and_then(|f| f.get("snapshotId").cloned())
            .and_then(text)
    };
    declared("version")
        .or_else(|| declared("datasetVersion"))
        .or_else(|| snapshot("icebergCommitReport"))
        .or_else(|| snapshot("icebergScanReport"))
}

async fn load<T>(
    tx: &mut AnyConnection,
    select: &str,
    key: &str,
    ids: &[String],
    suffix: &str,
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let sql = format!("{select} WHERE {key} IN ({}){suffix}", list(chunk.len()));
        let args: Vec<Arg> = chunk.iter().map(|s| Arg::from(s.as_str())).collect();
        out.extend(
            bind_all_as(sqlx::query_as::<_, T>(&sql), &args)
                .fetch_all(&mut *tx)
                .await?,
        );
    }
    Ok(out)
}

/// The batch's upserts. On Postgres they go as few statements as the parameter limit allows,
/// each a chain of data-modifying `WITH` clauses (one per table; no two touch the same table, and
/// no table has a foreign key to check between them): one round trip instead of one per table.
/// SQLite runs each as it comes.
struct Upserts<'a> {
    tx: &'a mut AnyConnection,
    backend: Backend,
    pending: Vec<String>,
    args: Vec<Arg>,
}

impl<'a> Upserts<'a> {
    fn new(tx: &'a mut AnyConnection, backend: Backend) -> Self {
        Upserts {
            tx,
            backend,
            pending: Vec::new(),
            args: Vec::new(),
        }
    }

    async fn add(
        &mut self,
        table: &str,
        cols: &[&str],
        key: &[&str],
        update: bool,
        rows: Vec<Vec<Arg>>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let action = if update {
            let sets: Vec<String> = cols
                .iter()
                .filter(|c| !key.contains(c))
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!("DO UPDATE SET {}", sets.join(", "))
        } else {
            "DO NOTHING".to_string()
        };
        let conflict = if key.is_empty() {
            String::new()
        } else {
            format!(" ON CONFLICT ({}) {action}", key.join(", "))
        };
        let per_statement = rows_per_statement(cols.len());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Arg> = rows.by_ref().take(per_statement).flatten().collect();
            if self.args.len() + chunk.len() > MAX_PARAMS {
                self.flush().await?;
            }
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {}{conflict}",
                cols.join(", "),
                value_rows_from(chunk.len() / cols.len(), cols.len(), self.args.len() + 1),
            );
            self.pending.push(sql);
            self.args.extend(chunk);
            if self.backend == Backend::Sqlite {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Sends what is pending.
    async fn flush(&mut self) -> Result<(), StoreError> {
        let sql = match self.pending.len() {
            0 => return Ok(()),
            1 => self.pending.pop().expect("one"),
            _ => {
                let clauses: Vec<String> = self
                    .pending
                    .drain(..)
                    .enumerate()
                    .map(|(i, s)| format!("w{i} AS ({s})"))
                    .collect();
                format!("WITH {} SELECT 1", clauses.join(", "))
            }
        };
        let args = std::mem::take(&mut self.args);
        bind_all(sqlx::query(&sql), &args)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

impl Batch {
    /// The dataset a reference names: a known name or alias, else an alias from its `symlinks`
    /// facet, else a new dataset under its own name.
    fn resolve(&mut self, d: &DatasetRef) -> String {
        let key = (d.namespace.clone(), d.name.clone());
        let links = symlinks(d);
        let id = if let Some(id) = self.names.get(&key) {
            id.clone()
        } else if let Some(id) = links
            .iter()
            .find_map(|(ns, n, _)| self.names.get(&(ns.clone(), n.clone())))
        {
            id.clone()
        } else {
            ids::dataset_id(&d.namespace, &d.name).to_string()
        };
        if !self.names.contains_key(&key) {
            self.names.insert(key.clone(), id.clone());
            self.new_names.push((key.0, key.1, id.clone(), None));
        }
        for (ns, n, ty) in links {
            let k = (ns, n);
            if !self.names.contains_key(&k) {
                self.names.insert(k.clone(), id.clone());
                self.namespaces.insert(k.0.clone());
                self.new_names.push((k.0, k.1, id.clone(), ty));
            }
        }
        id
    }

    fn dataset(&mut self, id: &str, d: &DatasetRef) -> &mut DatasetState {
        let now = self.now;
        self.datasets
            .entry(id.to_string())
            .or_insert_with(|| DatasetState {
                id: id.to_string(),
                namespace: d.namespace.clone(),
                name: d.name.clone(),
                facets: FacetState::default(),
                current: None,
                created_at: now,
                deleted_at: None,
            })
    }

    fn job(&mut self, namespace: &str, name: &str) -> &mut JobState {
        let id = ids::job_id(namespace, name).to_string();
        self.namespaces.insert(namespace.to_string());
        let now = self.now;
        self.jobs.entry(id.clone()).or_insert_with(|| JobState {
            id,
            namespace: namespace.to_string(),
            name: name.to_string(),
            parent_job_id: None,
            facets: FacetState::default(),
            created_at: now,
            deleted_at: None,
        })
    }

    /// Merges a dataset's own facets and returns its id.
    fn touch_dataset(&mut self, d: &DatasetRef, t: Micros) -> String {
        self.namespaces.insert(d.namespace.clone());
        let id = self.resolve(d);
        if let Some(src) = d.facets.get("dataSource") {
            if let Some(name) = src.get("name").and_then(Value::as_str) {
                let uri = src.get("uri").and_then(Value::as_str).map(str::to_string);
                self.sources.insert(name.to_string(), uri);
            }
        }
        let ds = self.dataset(&id, d);
        ds.facets.merge(t, &d.facets);
        ds.deleted_at = None;
        id
    }

    fn version(&mut self, dataset_id: &str, key: VersionKey<'_>, t: Micros) -> &mut VersionState {
        let id = ids::dataset_version_id(dataset_id.parse().expect("dataset ids are uuids"), key)
            .to_string();
        let pv = match key {
            VersionKey::Producer(v) => Some(v.to_string()),
            _ => None,
        };
        let v = self
            .versions
            .entry(id.clone())
            .or_insert_with(|| VersionState {
                id,
                dataset_id: dataset_id.to_string(),
                producer_version: pv,
                created_by_run: None,
                created_at: t,
                facets: FacetState::default(),
                io_facets: FacetState::default(),
                may_be_current: false,
            });
        v.created_at = v.created_at.min(t);
        v
    }

    fn io(&mut self, run: &str, direction: &'static str, dataset: &str, t: Micros) -> &mut IoState {
        let io = self
            .io
            .entry((run.to_string(), direction, dataset.to_string()))
            .or_insert_with(|| IoState {
                dirty: true,
                version_id: None,
                bind_time: t,
                facets: FacetState::default(),
            });
        io.bind_time = io.bind_time.min(t);
        io
    }

    fn apply_event(&mut self, e: &LineageEvent) {
        let t = e.event_time;
        match e.kind {
            EventKind::Dataset => {
                let Some(d) = &e.dataset else { return };
                let id = self.touch_dataset(d, t);
                let content = sha256_hex(&canonical(&Value::Object(d.facets.as_map().clone())));
                let pv = producer_version(d);
                let key = pv
                    .as_deref()
                    .map_or(VersionKey::Content(&content), VersionKey::Producer);
                let v = self.version(&id, key, t);
                v.facets.merge(t, &d.facets);
                v.may_be_current = true;
            }
            EventKind::Run | EventKind::Job => self.apply_job_or_run(e, t),
        }
    }

    fn apply_job_or_run(&mut self, e: &LineageEvent, t: Micros) {
        let Some(job_ref) = &e.job else { return };
        let parent = e
            .run
            .as_ref()
            .and_then(|r| r.facets.get("parent"))
            .and_then(|p| {
                let job = p.get("job")?;
                let ns = job.get("namespace")?.as_str()?.to_string();
                let name = job.get("name")?.as_str()?.to_string();
                let run = p
                    .get("run")
                    .and_then(|r| r.get("runId"))
                    .and_then(Value::as_str)
                    .map(ids::run_uuid);
                Some((ns, name, run))
            });
        let parent_job_id = parent
            .as_ref()
            .map(|(ns, name, _)| self.job(ns, name).id.clone());
        let job = self.job(&job_ref.namespace, &job_ref.name);
        job.facets.merge(t, &job_ref.facets);
        job.deleted_at = None;
        if parent_job_id.is_some() {
            job.parent_job_id = parent_job_id;
        }
        let job_id = job.id.clone();

        let inputs: Vec<(String, &DatasetRef)> = e
            .inputs
            .iter()
            .map(|d| (self.touch_dataset(d, t), d))
            .collect();
        let outputs: Vec<(String, &DatasetRef)> = e
            .outputs
            .iter()
            .map(|d| (self.touch_dataset(d, t), d))
            .collect();

        // Producer-supplied versions name a version whoever reads or writes it.
        for (id, d) in &inputs {
            if let Some(pv) = producer_version(d) {
                self.version(id, VersionKey::Producer(&pv), t)
                    .facets
                    .merge(t, &d.facets);
            }
        }

        let Some(run) = &e.run else {
            // A JobEvent defines a job version directly.
            let jv = self.job_version_for(
                &job_id,
                inputs.iter().map(|(id, _)| id.clone()).collect(),
                outputs.iter().map(|(id, _)| id.clone()).collect(),
                job_ref.facets.get("sourceCodeLocation").cloned(),
                job_ref.facets.get("sql").cloned(),
                t,
            );
            jv.defined_by_event = true;
            for (id, d) in &outputs {
                if let Some(pv) = producer_version(d) {
                    let v = self.version(id, VersionKey::Producer(&pv), t);
                    v.facets.merge(t, &d.facets);
                    v.may_be_current = true;
                }
            }
            return;
        };

        let uuid = run.uuid.to_string();
        let now = self.now;
        let entry = self.runs.entry(uuid.clone()).or_insert_with(|| RunEntry {
            uuid: uuid.clone(),
            run_id: run.run_id.clone(),
            job_id: job_id.clone(),
            job_version_id: None,
            parent_run_uuid: None,
            timeline: RunTimeline::default(),
            facets: FacetState::default(),
            job_facets: FacetState::default(),
            created_at: now,
        });
        entry.timeline.apply(e.event_type, t);
        entry.facets.merge(t, &run.facets);
        entry.job_facets.merge(t, &job_ref.facets);
        if let Some((_, _, Some(parent_run))) = &parent {
            entry.parent_run_uuid = Some(parent_run.to_string());
        }

        for (id, d) in &inputs {
            let pv_version = producer_version(d).map(|pv| {
                ids::dataset_version_id(id.parse().expect("uuid"), VersionKey::Producer(&pv))
                    .to_string()
            });
            let io = self.io(&uuid, "in", id, t);
            io.facets.merge(t, &d.io_facets);
            if pv_version.is_some() {
                io.version_id = pv_version;
            }
        }
        for (id, d) in &outputs {
            let pv = producer_version(d);
            let key = pv
                .as_deref()
                .map_or(VersionKey::WrittenBy(run.uuid), VersionKey::Producer);
            let v = self.version(id, key, t);
            v.facets.merge(t, &d.facets);
            v.io_facets.merge(t, &d.io_facets);
            v.may_be_current = true;
            // Two runs claiming one producer version: the smallest run id wins, whatever the order.
            if v.created_by_run.as_ref().is_none_or(|r| *r > uuid) {
                v.created_by_run = Some(uuid.clone());
            }
            let vid = v.id.clone();
            let io = self.io(&uuid, "out", id, t);
            io.facets.merge(t, &d.io_facets);
            io.version_id = Some(vid);
        }
    }

    /// The job version a set of inputs, outputs and job facets define.
    fn job_version_for(
        &mut self,
        job_id: &str,
        mut inputs: Vec<String>,
        mut outputs: Vec<String>,
        location_facet: Option<Value>,
        sql_facet: Option<Value>,
        valid_from: Micros,
    ) -> &mut JobVersionState {
        inputs.sort();
        inputs.dedup();
        outputs.sort();
        outputs.dedup();
        let location = location_facet.map(|l| {
            let keep = ["type", "url", "repoUrl", "path", "version", "tag", "branch"];
            Value::Object(
                l.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| keep.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        });
        let sql = sql_facet
            .as_ref()
            .and_then(|s| s.get("query"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let canonical_text = canonical(
            &json!({"inputs": inputs, "outputs": outputs, "location": location, "sql": sql}),
        );
        let id = ids::job_version_id(job_id.parse().expect("job ids are uuids"), &canonical_text)
            .to_string();
        let now = self.now;
        let jv = self
            .job_versions
            .entry(id.clone())
            .or_insert_with(|| JobVersionState {
                id,
                job_id: job_id.to_string(),
                inputs,
                outputs,
                location,
                sql,
                valid_from,
                defined_by_event: false,
                created_at: now,
            });
        jv.valid_from = jv.valid_from.min(valid_from);
        jv
    }
}

/// What a version's checksum covers, serialised with sorted keys (facets are canonical text).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ChecksumInput<'a> {
    created_by_run: &'a Option<String>,
    dataset: &'a str,
    facets: BTreeMap<&'a str, &'a RawValue>,
    id: &'a str,
    producer_version: &'a Option<String>,
}

fn version_checksum(v: &VersionState) -> String {
    checksum_of(
        &v.id,
        &v.dataset_id,
        &v.created_by_run,
        &v.producer_version,
        &v.facets,
    )
}

/// The checksum of a dataset version from its parts; reads recompute it to check stored rows.
pub(super) fn checksum_of(
    id: &str,
    dataset: &str,
    created_by_run: &Option<String>,
    producer_version: &Option<String>,
    facets: &FacetState,
) -> String {
    let input = ChecksumInput {
        created_by_run,
        dataset,
        facets: facets.raw_current(),
        id,
        producer_version,
    };
    sha256_hex(&serde_json::to_string(&input).expect("checksum input serialises"))
}

/// Applies new events (already in the raw log) to the model; answers from when on the graph's
/// histories changed.
pub(super) async fn apply(
    tx: &mut AnyConnection,
    backend: Backend,
    events: &[&PreparedEvent],
) -> Result<Cuts, StoreError> {
    if events.is_empty() {
        return Ok(Cuts::default());
    }
    let lock = backend.lock_rows();
    let mut b = Batch {
        now: time::now_micros(),
        ..Batch::default()
    };

    // 1. Which datasets the names in the batch already mean.
    let mut names: BTreeSet<(String, String)> = BTreeSet::new();
    for p in events {
        for d in dataset_refs(&p.event) {
            names.insert((d.namespace.clone(), d.name.clone()));
            names.extend(symlinks(d).into_iter().map(|(ns, n, _)| (ns, n)));
        }
    }
    let keys: Vec<String> = names
        .iter()
        .map(|(ns, n)| ids::dataset_id(ns, n).to_string())
        .collect();
    let sql = "SELECT namespace, name, dataset_id FROM dataset_names";
    for r in load::<NameRow>(tx, sql, "name_key", &keys, "").await? {
        b.names.insert((r.namespace, r.name), r.dataset_id);
    }

    // 2. Merge the batch's events among themselves.
    for p in events {
        b.apply_event(&p.event);
    }

    // 3. Load what the store already has for the rows the batch touched and merge it in. Every
    //    merge is commutative, so stored-then-batch equals any other order.
    let version_ids: Vec<String> = b.versions.keys().cloned().collect();
    let sql = format!("SELECT {VERSION_COLS} FROM dataset_versions");
    for r in load::<VersionRow>(tx, &sql, "id", &version_ids, lock).await? {
        let v = b.versions.get_mut(&r.id).expect("loaded by id");
        let mut facets = FacetState::from_stored(Some(&r.facets));
        facets.merge_state(&v.facets);
        v.facets = facets;
        let mut io_facets = FacetState::from_stored(Some(&r.io_facets));
        io_facets.merge_state(&v.io_facets);
        v.io_facets = io_facets;
        v.created_at = v.created_at.min(r.created_at);
        v.created_by_run = match (v.created_by_run.take(), r.created_by_run) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let dataset_ids: Vec<String> = b.datasets.keys().cloned().collect();
    let sql = format!("SELECT {DATASET_COLS} FROM datasets");
    for r in load::<DatasetRow>(tx, &sql, "id", &dataset_ids, lock).await? {
        let d = b.datasets.get_mut(&r.id).expect("loaded by id");
        let mut facets = FacetState::from_stored(Some(&r.facets));
        facets.merge_state(&d.facets);
        d.facets = facets;
        d.current = r.current_version_time.zip(r.current_version_id);
        d.created_at = r.created_at;
        // Named again by a new event: a soft-deleted dataset comes back.
    }
    let job_ids: Vec<String> = b.jobs.keys().cloned().collect();
    let sql = format!("SELECT {JOB_COLS} FROM jobs");
    for r in load::<JobRow>(tx, &sql, "id", &job_ids, lock).await? {
        let j = b.jobs.get_mut(&r.id).expect("loaded by id");
        let mut facets = FacetState::from_stored(Some(&r.facets));
        facets.merge_state(&j.facets);
        j.facets = facets;
        j.parent_job_id = j.parent_job_id.take().or(r.parent_job_id);
        j.created_at = r.created_at;
    }
    let run_ids: Vec<String> = b.runs.keys().cloned().collect();
    let mut loaded_job_versions: BTreeMap<String, Option<String>> = BTreeMap::new();
    let sql = format!("SELECT {RUN_COLS} FROM runs");
    for r in load::<RunRow>(tx, &sql, "uuid", &run_ids, lock).await? {
        let e = b.runs.get_mut(&r.uuid).expect("loaded by id");
        let mut timeline = RunTimeline {
            start_time: r.start_time,
            running_time: r.running_time,
            terminal: None,
            first_event: Some(r.first_event_time),
            last_event: Some(r.last_event_time),
        };
        let terminal_type = r
            .terminal_type
            .as_deref()
            .and_then(crate::model::EventType::parse);
        timeline.terminal = r.terminal_time.zip(terminal_type);
        timeline.merge(&e.timeline);
        e.timeline = timeline;
        let mut facets = FacetState::from_stored(Some(&r.facets));
        facets.merge_state(&e.facets);
        e.facets = facets;
        let mut job_facets = FacetState::from_stored(Some(&r.job_facets));
        job_facets.merge_state(&e.job_facets);
        e.job_facets = job_facets;
        e.run_id = r.run_id;
        e.job_id = r.job_id;
        e.parent_run_uuid = e.parent_run_uuid.take().or(r.parent_run_uuid);
        e.created_at = r.created_at;
        loaded_job_versions.insert(r.uuid, r.job_version_id);
    }
    let sql = format!("SELECT {RUN_IO_COLS} FROM run_io");
    for r in load::<RunIoRow>(tx, &sql, "run_uuid", &run_ids, lock).await? {
        let direction: &'static str = if r.direction == "in" { "in" } else { "out" };
        let stored = FacetState::from_stored(Some(&r.facets));
        match b
            .io
            .get_mut(&(r.run_uuid.clone(), direction, r.dataset_id.clone()))
        {
            Some(io) => {
                let mut facets = stored;
                facets.merge_state(&io.facets);
                io.facets = facets;
                io.bind_time = io.bind_time.min(r.bind_time);
                io.version_id = io.version_id.take().or(r.version_id);
            }
            None => {
                // Untouched by this batch: needed for the run's job version, not rewritten.
                let io = IoState {
                    version_id: r.version_id,
                    bind_time: r.bind_time,
                    facets: stored,
                    dirty: false,
                };
                b.io.insert((r.run_uuid, direction, r.dataset_id), io);
            }
        }
    }

    // 4. Each touched run's job version, from everything the run read and wrote.
    let mut io_by_run: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (run, dir, ds) in b.io.keys() {
        let e = io_by_run.entry(run.as_str()).or_default();
        if *dir == "in" {
            e.0.push(ds.clone())
        } else {
            e.1.push(ds.clone())
        }
    }
    let mut run_versions = Vec::new();
    for run in b.runs.values() {
        let (inputs, outputs) = io_by_run
            .get(run.uuid.as_str())
            .cloned()
            .unwrap_or_default();
        let from = run.timeline.first_event.unwrap_or(b.now);
        run_versions.push((
            run.uuid.clone(),
            run.job_id.clone(),
            inputs,
            outputs,
            run.job_facets.get("sourceCodeLocation"),
            run.job_facets.get("sql"),
            from,
        ));
    }
    for (uuid, job_id, inputs, outputs, location, sql, from) in run_versions {
        let id = b
            .job_version_for(&job_id, inputs, outputs, location, sql, from)
            .id
            .clone();
        b.runs.get_mut(&uuid).expect("run").job_version_id = Some(id);
    }
    let jv_ids: Vec<String> = b.job_versions.keys().cloned().collect();
    for r in load::<JobVersionRow>(
        tx,
        &format!("SELECT {JOB_VERSION_COLS} FROM job_versions"),
        "id",
        &jv_ids,
        lock,
    )
    .await?
    {
        if let Some(jv) = b.job_versions.get_mut(&r.id) {
            jv.valid_from = jv.valid_from.min(r.valid_from);
            jv.defined_by_event |= r.defined_by_event != 0;
            jv.created_at = r.created_at;
        }
    }

    // 5. Each dataset's current version: the newest a run wrote or an event described.
    let stored_current: BTreeMap<String, Option<(Micros, String)>> = b
        .datasets
        .values()
        .map(|d| (d.id.clone(), d.current.clone()))
        .collect();
    for v in b.versions.values() {
        let Some(ds) = b.datasets.get_mut(&v.dataset_id) else {
            continue;
        };
        if !v.may_be_current && ds.current.is_some() {
            continue;
        }
        let candidate = (v.created_at, v.id.clone());
        if ds.current.as_ref().is_none_or(|c| candidate > *c) {
            ds.current = Some(candidate);
        }
    }

    // 6. From when on the graph's histories changed (the graph reads back only that).
    let mut cuts = Cuts::default();
    for j in b.jobs.values() {
        cuts.jobs
            .insert((j.namespace.clone(), j.name.clone()), Micros::MAX);
    }
    for jv in b.job_versions.values() {
        if let Some(j) = b.jobs.get(&jv.job_id) {
            let cut = cuts
                .jobs
                .entry((j.namespace.clone(), j.name.clone()))
                .or_insert(Micros::MAX);
            *cut = (*cut).min(jv.valid_from);
        }
    }
    for d in b.datasets.values() {
        let mut cut = Micros::MAX;
        let old = stored_current.get(&d.id).cloned().flatten();
        if old != d.current {
            // A new current version moves to the end of the column history; the old one back
            // to its time.
            for (t, _) in old.iter().chain(&d.current) {
                cut = cut.min(*t);
            }
        }
        cuts.columns
            .insert((d.namespace.clone(), d.name.clone()), cut);
    }
    for v in b.versions.values() {
        if v.facets.raw("columnLineage").is_none() {
            continue;
        }
        if let Some(d) = b.datasets.get(&v.dataset_id) {
            let cut = cuts
                .columns
                .entry((d.namespace.clone(), d.name.clone()))
                .or_insert(Micros::MAX);
            *cut = (*cut).min(v.created_at);
        }
    }

    write(tx, backend, b, loaded_job_versions, &mut cuts).await?;
    Ok(cuts)
}

async fn write(
    tx: &mut AnyConnection,
    backend: Backend,
    b: Batch,
    loaded_job_versions: BTreeMap<String, Option<String>>,
    cuts: &mut Cuts,
) -> Result<(), StoreError> {
    let now = b.now;
    let mut w = Upserts::new(tx, backend);
    w.add(
        "namespaces",
        &["name", "created_at", "updated_at", "deleted_at"],
        &["name"],
        true,
        b.namespaces
            .iter()
            .map(|n| vec![n.as_str().into(), now.into(), now.into(), Arg::Int(None)])
            .collect(),
    )
    .await?;
    w.add(
        "sources",
        &["name", "type", "connection_url", "created_at", "updated_at"],
        &["name"],
        false,
        b.sources
            .iter()
            .map(|(name, uri)| {
                let kind = uri
                    .as_deref()
                    .and_then(|u| u.split_once("://"))
                    .map(|(s, _)| s.to_uppercase());
                vec![
                    name.as_str().into(),
                    kind.into(),
                    uri.clone().into(),
                    now.into(),
                    now.into(),
                ]
            })
            .collect(),
    )
    .await?;
    w.add(
        "dataset_names",
        &[
            "name_key",
            "namespace",
            "name",
            "dataset_id",
            "symlink_type",
        ],
        &["name_key"],
        false,
        b.new_names
            .iter()
            .map(|(ns, n, id, ty)| {
                vec![
                    ids::dataset_id(ns, n).to_string().into(),
                    ns.as_str().into(),
                    n.as_str().into(),
                    id.as_str().into(),
                    ty.clone().into(),
                ]
            })
            .collect(),
    )
    .await?;
    w.add(
        "datasets",
        &[
            "id",
            "namespace",
            "name",
            "source_name",
            "dataset_type",
            "facets",
            "current_version_id",
            "current_version_time",
            "created_at",
            "updated_at",
            "deleted_at",
        ],
        &["id"],
        true,
        b.datasets
            .values()
            .map(|d| {
                let source = d.facets.string("dataSource", "name");
                let ty = d.facets.string("datasetType", "datasetType");
                vec![
                    d.id.as_str().into(),
                    d.namespace.as_str().into(),
                    d.name.as_str().into(),
                    source.or_else(|| Some(d.namespace.clone())).into(),
                    ty.into(),
                    d.facets.to_stored().into(),
                    d.current.as_ref().map(|c| c.1.clone()).into(),
                    d.current.as_ref().map(|c| c.0).into(),
                    d.created_at.into(),
                    now.into(),
                    d.deleted_at.into(),
                ]
            })
            .collect(),
    )
    .await?;

    let mut version_rows = Vec::new();
    for v in b.versions.values() {
        let checksum = version_checksum(v);
        version_rows.push(vec![
            v.id.as_str().into(),
            v.dataset_id.as_str().into(),
            v.producer_version.clone().into(),
            v.created_by_run.clone().into(),
            v.created_at.into(),
            now.into(),
            v.facets.to_stored().into(),
            v.io_facets.to_stored().into(),
            checksum.into(),
        ]);
    }
    w.add(
        "dataset_versions",
        &[
            "id",
            "dataset_id",
            "producer_version",
            "created_by_run",
            "created_at",
            "updated_at",
            "facets",
            "io_facets",
            "checksum",
        ],
        &["id"],
        true,
        version_rows,
    )
    .await?;
    w.add(
        "jobs",
        &[
            "id",
            "namespace",
            "name",
            "parent_job_id",
            "job_type",
            "facets",
            "created_at",
            "updated_at",
            "deleted_at",
        ],
        &["id"],
        true,
        b.jobs
            .values()
            .map(|j| {
                let ty = j.facets.string("jobType", "jobType");
                vec![
                    j.id.as_str().into(),
                    j.namespace.as_str().into(),
                    j.name.as_str().into(),
                    j.parent_job_id.clone().into(),
                    ty.into(),
                    j.facets.to_stored().into(),
                    j.created_at.into(),
                    now.into(),
                    j.deleted_at.into(),
                ]
            })
            .collect(),
    )
    .await?;

    let mut jv_io = Vec::new();
    let jv_rows = b
        .job_versions
        .values()
        .map(|jv| {
            for (dir, list) in [("in", &jv.inputs), ("out", &jv.outputs)] {
                for ds in list {
                    jv_io.push(vec![jv.id.as_str().into(), dir.into(), ds.as_str().into()]);
                }
            }
            vec![
                jv.id.as_str().into(),
                jv.job_id.as_str().into(),
                serde_json::to_string(&jv.inputs).expect("ids").into(),
                serde_json::to_string(&jv.outputs).expect("ids").into(),
                jv.location.as_ref().map(|l| l.to_string()).into(),
                jv.sql.clone().into(),
                jv.valid_from.into(),
                i64::from(jv.defined_by_event).into(),
                jv.created_at.into(),
            ]
        })
        .collect();
    w.add(
        "job_versions",
        &[
            "id",
            "job_id",
            "inputs",
            "outputs",
            "location",
            "sql",
            "valid_from",
            "defined_by_event",
            "created_at",
        ],
        &["id"],
        true,
        jv_rows,
    )
    .await?;
    w.add(
        "job_version_io",
        &["job_version_id", "direction", "dataset_id"],
        &["job_version_id", "direction", "dataset_id"],
        false,
        jv_io,
    )
    .await?;

    let run_rows = b
        .runs
        .values()
        .map(|r| {
            let nominal_time = |k: &str| {
                r.facets
                    .string("nominalTime", k)
                    .and_then(|t| time::parse_event_time(&t))
                    .map(time::to_micros)
            };
            vec![
                r.uuid.as_str().into(),
                r.run_id.as_str().into(),
                r.job_id.as_str().into(),
                r.job_version_id.clone().into(),
                r.parent_run_uuid.clone().into(),
                r.timeline.state().as_str().into(),
                r.timeline.start_time.into(),
                r.timeline.running_time.into(),
                r.timeline.terminal.map(|t| t.0).into(),
                r.timeline.terminal.map(|t| t.1.as_str().to_string()).into(),
                r.timeline.first_event.unwrap_or(now).into(),
                r.timeline.last_event.unwrap_or(now).into(),
                nominal_time("nominalStartTime").into(),
                nominal_time("nominalEndTime").into(),
                r.facets.to_stored().into(),
                r.job_facets.to_stored().into(),
                r.created_at.into(),
                now.into(),
            ]
        })
        .collect();
    w.add(
        "runs",
        &[
            "uuid",
            "run_id",
            "job_id",
            "job_version_id",
            "parent_run_uuid",
            "state",
            "start_time",
            "running_time",
            "terminal_time",
            "terminal_type",
            "first_event_time",
            "last_event_time",
            "nominal_start",
            "nominal_end",
            "facets",
            "job_facets",
            "created_at",
            "updated_at",
        ],
        &["uuid"],
        true,
        run_rows,
    )
    .await?;
    w.add(
        "run_io",
        &[
            "run_uuid",
            "direction",
            "dataset_id",
            "version_id",
            "bind_time",
            "facets",
        ],
        &["run_uuid", "direction", "dataset_id"],
        true,
        b.io.iter()
            .filter(|(_, io)| io.dirty)
            .map(|((run, dir, ds), io)| {
                vec![
                    run.as_str().into(),
                    (*dir).into(),
                    ds.as_str().into(),
                    io.version_id.clone().into(),
                    io.bind_time.into(),
                    io.facets.to_stored().into(),
                ]
            })
            .collect(),
    )
    .await?;
    w.flush().await?;
    let Upserts { tx, .. } = w;

    // A job version only a run's partial view produced (say, a START without outputs) goes once
    // no run and no JobEvent refers to it any more.
    for (uuid, old) in loaded_job_versions {
        let (Some(old), Some(run)) = (old, b.runs.get(&uuid)) else {
            continue;
        };
        if run.job_version_id.as_deref() == Some(old.as_str()) {
            continue;
        }
        let removed: Option<(String, i64)> = sqlx::query_as(
            "DELETE FROM job_versions WHERE id = $1 AND defined_by_event = 0 \
             AND NOT EXISTS (SELECT 1 FROM runs WHERE job_version_id = $1) \
             RETURNING job_id, valid_from",
        )
        .bind(old.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((job_id, valid_from)) = removed {
            // Its span goes from the graph too.
            let key = b
                .jobs
                .get(&job_id)
                .map(|j| (j.namespace.clone(), j.name.clone()));
            if let Some(cut) = key.and_then(|k| cuts.jobs.get_mut(&k)) {
                *cut = (*cut).min(valid_from);
            }
        }
        sqlx::query(
            "DELETE FROM job_version_io WHERE job_version_id = $1 AND NOT EXISTS (SELECT 1 FROM job_versions WHERE id = $1)",
        )
        .bind(old.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
