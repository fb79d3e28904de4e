//! Normalizing: a batch of new events and the stored state of the rows they touch become a
//! change set — every row to write, whole, and from when on the graph's histories changed. Pure:
//! no SQL, no I/O, no clock (the caller says what "now" is). The store calls it between the reads
//! of the batch's own transaction (the stored rows must be read under that transaction's locks,
//! so that two servers writing at once cannot lose each other's merges) and persists what it
//! answers; the rules of the model live here alone.
//!
//! The steps, each fed by the store:
//! 1. [`name_keys`]: the names the events mention; the store answers which dataset each means.
//! 2. [`Normalizer::new`]: the events merged among themselves; [`Normalizer::wanted`] lists the
//!    rows whose stored state the merge needs.
//! 3. [`Normalizer::merge_stored`]: those rows merged in. Every merge is commutative and
//!    idempotent, so stored-then-batch equals any other order, and an event seen twice changes
//!    nothing.
//! 4. [`Normalizer::settle_job_versions`]: each touched run's job version, from everything the run
//!    read and wrote; it answers which job versions' stored rows [`Normalizer::finish`] needs.
//! 5. [`Normalizer::finish`]: each dataset's current version and the graph's cuts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::model::canonical::{self, canonical, sha256_hex};
use crate::model::event::{DatasetRef, EventKind, LineageEvent};
use crate::model::graph::{
    ColumnDelta, Cuts, DatasetNames, EdgeSpan, GraphDelta, GraphJob, NodeKey,
};
use crate::model::ids::{self, VersionKey};
use crate::model::time::Micros;
use crate::model::{FacetState, RunTimeline};

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetState {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub facets: FacetState,
    pub current: Option<(Micros, String)>,
    /// Whether the current version may be current (a run wrote it or an event described it),
    /// rather than being the dataset's only kind of version; read with the row, not kept in it.
    pub current_is_candidate: bool,
    pub created_at: Micros,
    pub deleted_at: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionState {
    pub id: String,
    pub dataset_id: String,
    pub producer_version: Option<String>,
    pub created_by_run: Option<String>,
    pub created_at: Micros,
    pub facets: FacetState,
    pub io_facets: FacetState,
    /// Whether a run wrote it or an event described it (rather than only reading it): only such
    /// versions become the dataset's current one, unless the dataset has none of them.
    pub may_be_current: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub parent_job_id: Option<String>,
    pub facets: FacetState,
    pub created_at: Micros,
    pub deleted_at: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    pub uuid: String,
    pub run_id: String,
    pub job_id: String,
    pub job_version_id: Option<String>,
    pub parent_run_uuid: Option<String>,
    pub timeline: RunTimeline,
    pub facets: FacetState,
    pub job_facets: FacetState,
    pub created_at: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IoState {
    /// False for rows loaded only to know a run's whole input and output set.
    pub dirty: bool,
    pub version_id: Option<String>,
    pub bind_time: Micros,
    pub facets: FacetState,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobVersionState {
    pub id: String,
    pub job_id: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub location: Option<Value>,
    pub sql: Option<String>,
    pub valid_from: Micros,
    pub defined_by_event: bool,
    pub created_at: Micros,
}

/// A run's input (`"in"`) or output (`"out"`) of a dataset: `(run uuid, direction, dataset id)`.
pub type IoKey = (String, &'static str, String);

/// A name a dataset is known by, new in this batch: `(namespace, name, dataset id, symlink type)`.
pub type NewName = (String, String, String, Option<String>);

/// What a batch changes: every row to write, whole (stored state and the batch's events merged),
/// keyed by id, and from when on the graph's histories changed.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// When the batch was normalized: `created_at` of new rows, `updated_at` of every row.
    pub now: Micros,
    /// What each name the batch mentions means (stored, or new in this batch).
    names: HashMap<(String, String), String>,
    pub new_names: Vec<NewName>,
    pub namespaces: BTreeSet<String>,
    /// Data sources by name, with their URI when one was given.
    pub sources: BTreeMap<String, Option<String>>,
    pub datasets: BTreeMap<String, DatasetState>,
    pub versions: BTreeMap<String, VersionState>,
    pub jobs: BTreeMap<String, JobState>,
    pub runs: BTreeMap<String, RunEntry>,
    /// Every input and output of the touched runs (the store writes each run's whole set with
    /// it); those not `dirty` are as stored, read to settle the run's job version.
    pub io: BTreeMap<IoKey, IoState>,
    pub job_versions: BTreeMap<String, JobVersionState>,
    /// Job versions a run of this batch pointed at before and no longer does: they go once no run
    /// and no JobEvent refers to them (the store knows whether any other run does).
    pub replaced_job_versions: Vec<String>,
    /// From when on the graph's histories changed.
    pub cuts: Cuts,
    /// Job versions new in this batch (not stored before).
    pub new_job_versions: BTreeSet<String>,
    /// Jobs whose stored versions this batch moved (to an earlier start) or replaced: only the
    /// store knows what their histories now are.
    pub reshaped_jobs: BTreeSet<String>,
    /// Each touched dataset's current version before the batch: `(created_at, id)`.
    pub previous_current: BTreeMap<String, Option<(Micros, String)>>,
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

/// The version a run's output gets when its producer names none.
fn written_by(run: uuid::Uuid, dataset: &str) -> String {
    ids::dataset_version_id(
        dataset.parse().expect("dataset ids are uuids"),
        VersionKey::WrittenBy(run),
    )
    .to_string()
}

impl IoState {
    /// Takes one more version the events name for this input or output. A version the producer
    /// named wins over the one a run's output gets without a name (`written_by`); between two
    /// named versions (a run that wrote one dataset twice) the greater id, whatever the order.
    fn bind_version(&mut self, version: Option<String>, written_by: Option<&str>) {
        fn rank<'a>(v: &'a Option<String>, written_by: Option<&str>) -> Option<(bool, &'a str)> {
            v.as_deref().map(|id| (Some(id) != written_by, id))
        }
        if rank(&version, written_by) > rank(&self.version_id, written_by) {
            self.version_id = version;
        }
    }
}

impl ChangeSet {
    /// What this change set, as written, does to the graph (see [`GraphDelta`]); `cuts` must be
    /// final (the store lowers them for the versions it removed).
    pub fn graph_delta(&self) -> GraphDelta {
        let mut delta = GraphDelta {
            datasets: self
                .datasets
                .values()
                .map(|d| {
                    (
                        NodeKey::dataset(&d.namespace, &d.name),
                        d.facets.string("datasetType", "datasetType"),
                        d.deleted_at,
                    )
                })
                .collect(),
            ..Default::default()
        };
        let mut added: BTreeMap<&str, Vec<&JobVersionState>> = BTreeMap::new();
        for id in &self.new_job_versions {
            if let Some(jv) = self.job_versions.get(id) {
                added.entry(jv.job_id.as_str()).or_default().push(jv);
            }
        }
        let names = |ids: &[String]| -> Option<DatasetNames> {
            ids.iter()
                .map(|id| {
                    let d = self.datasets.get(id)?;
                    Some((d.namespace.clone(), d.name.clone()))
                })
                .collect()
        };
        let read_back = &mut delta.read_back;
        for job in self.jobs.values() {
            let key = (job.namespace.clone(), job.name.clone());
            let cut = self.cuts.job(&key);
            let mut versions = added.remove(job.id.as_str()).unwrap_or_default();
            // As the store orders them: by start, then id.
            versions.sort_by(|a, b| (a.valid_from, &a.id).cmp(&(b.valid_from, &b.id)));
            let spans: Option<Vec<_>> = if self.reshaped_jobs.contains(&job.id) {
                None
            } else {
                versions
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let to = versions.get(i + 1).map_or(Micros::MAX, |n| n.valid_from);
                        let span = EdgeSpan {
                            from: v.valid_from,
                            to,
                        };
                        Some((span, names(&v.inputs)?, names(&v.outputs)?))
                    })
                    .collect()
            };
            match spans {
                Some(versions) => delta.jobs.push(GraphJob {
                    namespace: job.namespace.clone(),
                    name: job.name.clone(),
                    deleted_at: job.deleted_at,
                    since: versions.first().map_or(Micros::MAX, |v| v.0.from),
                    until: Micros::MAX,
                    versions,
                }),
                None => {
                    read_back.cuts.jobs.insert(key.clone(), cut);
                    read_back.jobs.push(key);
                }
            }
        }
        // Each dataset's versions that enter its column history: those with column lineage.
        let mut entries: BTreeMap<&str, Vec<&VersionState>> = BTreeMap::new();
        for v in self.versions.values() {
            if v.facets.raw("columnLineage").is_some() {
                entries.entry(v.dataset_id.as_str()).or_default().push(v);
            }
        }
        for d in self.datasets.values() {
            let key = (d.namespace.clone(), d.name.clone());
            let Some(cut) = self.cuts.columns(&key) else {
                continue;
            };
            let mut list = entries.remove(d.id.as_str()).unwrap_or_default();
            let previous = self.previous_current.get(&d.id).cloned().flatten();
            // The new current version enters it too, and goes last.
            let current = d
                .current
                .as_ref()
                .filter(|(_, id)| previous.as_ref().is_none_or(|p| &p.1 != id))
                .and_then(|(_, id)| self.versions.get(id));
            let extended = match current {
                Some(current) => {
                    if !list.iter().any(|v| v.id == current.id) {
                        list.push(current);
                    }
                    list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                    // The version current before keeps its place only if the commit did not
                    // touch it.
                    list.last().is_some_and(|last| last.id == current.id)
                        && previous
                            .as_ref()
                            .is_none_or(|p| !self.versions.contains_key(&p.1))
                }
                None => false,
            };
            if extended {
                delta.columns.push(ColumnDelta {
                    namespace: key.0,
                    name: key.1,
                    cut,
                    previous: previous.map(|p| p.0),
                    entries: list
                        .iter()
                        .map(|v| {
                            (
                                v.created_at,
                                v.facets.raw("columnLineage").map(RawValue::to_owned),
                            )
                        })
                        .collect(),
                });
            } else {
                read_back.cuts.columns.insert(key.clone(), cut);
                if let Some(end) = self.cuts.column_ends.get(&key) {
                    read_back.cuts.column_ends.insert(key.clone(), *end);
                }
                read_back.datasets.push(key);
            }
        }
        delta
    }

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
            // A symlink's namespace is touched whether or not its name is known, as the
            // dataset's own is: what a batch touches does not depend on what is stored.
            self.namespaces.insert(ns.clone());
            let k = (ns, n);
            if !self.names.contains_key(&k) {
                self.names.insert(k.clone(), id.clone());
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
                current_is_candidate: false,
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
                let content = hex::encode(canonical::hash_object(d.facets.as_map()));
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
            let parts = job_version_parts(
                &job_id,
                inputs.iter().map(|(id, _)| id.clone()).collect(),
                outputs.iter().map(|(id, _)| id.clone()).collect(),
                job_ref.facets.get("sourceCodeLocation").cloned(),
                job_ref.facets.get("sql").cloned(),
            );
            let jv = self.job_version_for(&job_id, parts, t);
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
            io.bind_version(pv_version, None);
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
            // The version a run's output gets without a producer's name: this one, unless named.
            let written_by = match pv {
                None => vid.clone(),
                Some(_) => written_by(run.uuid, id),
            };
            let io = self.io(&uuid, "out", id, t);
            io.facets.merge(t, &d.io_facets);
            io.bind_version(Some(vid), Some(&written_by));
        }
    }

    /// The job version a set of inputs, outputs and job facets define.
    fn job_version_for(
        &mut self,
        job_id: &str,
        parts: JobVersionParts,
        valid_from: Micros,
    ) -> &mut JobVersionState {
        let JobVersionParts {
            id,
            inputs,
            outputs,
            location,
            sql,
        } = parts;
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

/// A touched run and what decides its job version.
struct RunVersion {
    run: String,
    job_id: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    location: Option<Value>,
    sql: Option<Value>,
    from: Micros,
}

impl RunVersion {
    /// The run, with its job, first event's time and the job version these decide.
    fn decide(self) -> (String, (String, Micros, JobVersionParts)) {
        let parts = job_version_parts(
            &self.job_id,
            self.inputs,
            self.outputs,
            self.location,
            self.sql,
        );
        (self.run, (self.job_id, self.from, parts))
    }
}

/// What a job version is made of, and the id that follows from it.
struct JobVersionParts {
    id: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    location: Option<Value>,
    sql: Option<String>,
}

/// The job version a run of `job_id` with these inputs, outputs and job facets belongs to.
fn job_version_parts(
    job_id: &str,
    mut inputs: Vec<String>,
    mut outputs: Vec<String>,
    location_facet: Option<Value>,
    sql_facet: Option<Value>,
) -> JobVersionParts {
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
    let canonical_text =
        canonical(&json!({"inputs": inputs, "outputs": outputs, "location": location, "sql": sql}));
    let id = ids::job_version_id(job_id.parse().expect("job ids are uuids"), &canonical_text)
        .to_string();
    JobVersionParts {
        id,
        inputs,
        outputs,
        location,
        sql,
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

impl VersionState {
    /// The checksum stored with the version.
    pub fn checksum(&self) -> String {
        checksum_of(
            &self.id,
            &self.dataset_id,
            &self.created_by_run,
            &self.producer_version,
            &self.facets,
        )
    }
}

/// The checksum of a dataset version from its parts; reads recompute it to check stored rows.
pub fn checksum_of(
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

/// The `dataset_names` keys of every name the events mention, their own and their symlinks'.
pub fn name_keys(events: &[&LineageEvent]) -> Vec<String> {
    let mut names: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut links = Vec::new();
    for e in events {
        for d in dataset_refs(e) {
            names.insert((&d.namespace, &d.name));
            links.extend(symlinks(d));
        }
    }
    let mut keys: BTreeSet<String> = names
        .into_iter()
        .map(|(ns, n)| ids::dataset_id(ns, n).to_string())
        .collect();
    keys.extend(
        links
            .iter()
            .map(|(ns, n, _)| ids::dataset_id(ns, n).to_string()),
    );
    keys.into_iter().collect()
}

/// The stored rows a batch's merge needs, by id.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Wanted {
    pub versions: Vec<String>,
    pub datasets: Vec<String>,
    pub jobs: Vec<String>,
    /// The runs, and every input and output each has.
    pub runs: Vec<String>,
}

/// The stored state of the rows a batch touches (those of [`Wanted`] that exist). Rows not asked
/// for are ignored.
#[derive(Debug, Default)]
pub struct Stored {
    pub versions: Vec<VersionState>,
    pub datasets: Vec<DatasetState>,
    pub jobs: Vec<JobState>,
    /// Runs with the job version each pointed at.
    pub runs: Vec<RunEntry>,
    pub io: Vec<(IoKey, IoState)>,
}

/// What [`Normalizer::finish`] needs of a stored job version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJobVersion {
    pub id: String,
    pub valid_from: Micros,
    pub defined_by_event: bool,
    pub created_at: Micros,
}

impl From<&JobVersionState> for StoredJobVersion {
    /// What a job version as written is to the batches after it.
    fn from(jv: &JobVersionState) -> Self {
        StoredJobVersion {
            id: jv.id.clone(),
            valid_from: jv.valid_from,
            defined_by_event: jv.defined_by_event,
            created_at: jv.created_at,
        }
    }
}

/// A batch being normalized; see the module's steps.
pub struct Normalizer {
    set: ChangeSet,
    /// Each run's job version as the batch alone decides it (`likely_job_versions`): its job,
    /// first event's time and version, kept for runs nothing stored is merged into.
    likely: BTreeMap<String, (String, Micros, JobVersionParts)>,
    /// Runs with stored rows or stored inputs and outputs merged in.
    stored_runs: BTreeSet<String>,
    /// Each stored run's job version before this batch.
    stored_job_versions: BTreeMap<String, Option<String>>,
    /// For each dataset whose current version the batch moved back in time: the best stored
    /// version it does not touch, `(may be current, created_at, id)`.
    untouched: BTreeMap<String, (bool, Micros, String)>,
    /// When each stored version the batch touches was created, before the batch (a late event
    /// may move it earlier: its old place in the column history changes too).
    stored_version_times: BTreeMap<String, Micros>,
}

impl Normalizer {
    /// Merges the batch's events among themselves. `known` is what the store says the names of
    /// [`name_keys`] mean: `(namespace, name, dataset id)`.
    pub fn new(
        now: Micros,
        known: impl IntoIterator<Item = (String, String, String)>,
        events: &[&LineageEvent],
    ) -> Normalizer {
        let mut set = ChangeSet {
            now,
            ..ChangeSet::default()
        };
        for (namespace, name, id) in known {
            set.names.insert((namespace, name), id);
        }
        for e in events {
            set.apply_event(e);
        }
        Normalizer {
            set,
            likely: BTreeMap::new(),
            stored_runs: BTreeSet::new(),
            stored_job_versions: BTreeMap::new(),
            untouched: BTreeMap::new(),
            stored_version_times: BTreeMap::new(),
        }
    }

    /// Takes what the store says the batch's names mean, for a normalizer made before it knew
    /// (with no names known: each name resolves as it would if nothing were stored). Where every
    /// stored name means what the batch alone made it mean, each name resolved as it would have
    /// with them known, so this normalizer is the one [`Normalizer::new`] would make with them:
    /// the stored names stop counting as new, and it answers true. Otherwise it answers false and
    /// is left as it was (the caller makes a new one with the names known).
    pub fn adopt_names(&mut self, known: &[(String, String, String)]) -> bool {
        if known.is_empty() {
            return true;
        }
        let b = &mut self.set;
        let stored: HashMap<(&str, &str), &str> = known
            .iter()
            .map(|(ns, n, id)| ((ns.as_str(), n.as_str()), id.as_str()))
            .collect();
        // Every stored name is one the batch mentions, so it must be among the batch's own.
        let mut agreeing = 0;
        for ((ns, n), own) in &b.names {
            match stored.get(&(ns.as_str(), n.as_str())) {
                Some(id) if id == own => agreeing += 1,
                Some(_) => return false,
                None => {}
            }
        }
        if agreeing != stored.len() {
            return false;
        }
        b.new_names
            .retain(|(ns, n, _, _)| !stored.contains_key(&(ns.as_str(), n.as_str())));
        true
    }

    /// The rows whose stored state [`Normalizer::merge_stored`] needs.
    pub fn wanted(&self) -> Wanted {
        Wanted {
            versions: self.set.versions.keys().cloned().collect(),
            datasets: self.set.datasets.keys().cloned().collect(),
            jobs: self.set.jobs.keys().cloned().collect(),
            runs: self.set.runs.keys().cloned().collect(),
        }
    }

    /// Merges in the stored state of the rows the batch touches.
    pub fn merge_stored(&mut self, stored: Stored) {
        let b = &mut self.set;
        for r in stored.versions {
            let Some(v) = b.versions.get_mut(&r.id) else {
                continue;
            };
            self.stored_version_times.insert(r.id.clone(), r.created_at);
            v.facets.merge_under(r.facets);
            v.io_facets.merge_under(r.io_facets);
            v.created_at = v.created_at.min(r.created_at);
            v.may_be_current |= r.may_be_current;
            v.created_by_run = match (v.created_by_run.take(), r.created_by_run) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        for r in stored.datasets {
            let Some(d) = b.datasets.get_mut(&r.id) else {
                continue;
            };
            d.facets.merge_under(r.facets);
            d.current = r.current;
            d.current_is_candidate = r.current_is_candidate;
            d.created_at = r.created_at;
            // Named again by a new event: a soft-deleted dataset comes back (`deleted_at` stays
            // the batch's none).
        }
        for r in stored.jobs {
            let Some(j) = b.jobs.get_mut(&r.id) else {
                continue;
            };
            j.facets.merge_under(r.facets);
            j.parent_job_id = j.parent_job_id.take().or(r.parent_job_id);
            j.created_at = r.created_at;
        }
        for r in stored.runs {
            let Some(e) = b.runs.get_mut(&r.uuid) else {
                continue;
            };
            let mut timeline = r.timeline;
            timeline.merge(&e.timeline);
            e.timeline = timeline;
            e.facets.merge_under(r.facets);
            e.job_facets.merge_under(r.job_facets);
            e.run_id = r.run_id;
            e.job_id = r.job_id;
            e.parent_run_uuid = e.parent_run_uuid.take().or(r.parent_run_uuid);
            e.created_at = r.created_at;
            self.stored_runs.insert(r.uuid.clone());
            self.stored_job_versions.insert(r.uuid, r.job_version_id);
        }
        for (key, r) in stored.io {
            if !b.runs.contains_key(&key.0) {
                continue;
            }
            self.stored_runs.insert(key.0.clone());
            match b.io.get_mut(&key) {
                Some(io) => {
                    io.facets.merge_under(r.facets);
                    io.bind_time = io.bind_time.min(r.bind_time);
                    let written_by = (key.1 == "out")
                        .then(|| written_by(key.0.parse().expect("run uuids are uuids"), &key.2));
                    io.bind_version(r.version_id, written_by.as_deref());
                }
                None => {
                    // Untouched by this batch: needed for the run's job version, not rewritten.
                    b.io.insert(key, IoState { dirty: false, ..r });
                }
            }
        }
    }

    /// The datasets whose stored current version the batch has seen at an earlier time than
    /// before, each with its versions in the batch: for these alone the store must say which of
    /// the dataset's other versions is best ([`Normalizer::merge_untouched`]).
    pub fn moved_back(&self) -> Vec<(String, Vec<String>)> {
        let b = &self.set;
        b.datasets
            .values()
            .filter(|d| {
                d.current
                    .as_ref()
                    .is_some_and(|(at, id)| b.versions.get(id).is_some_and(|v| v.created_at < *at))
            })
            .map(|d| {
                let touched = b.versions.values().filter(|v| v.dataset_id == d.id);
                (d.id.clone(), touched.map(|v| v.id.clone()).collect())
            })
            .collect()
    }

    /// For datasets of [`Normalizer::moved_back`]: the best stored version the batch does not
    /// touch, as `(dataset id, (may be current, created_at, version id))`, ordered by those three.
    pub fn merge_untouched(&mut self, best: Vec<(String, (bool, Micros, String))>) {
        self.untouched.extend(best);
    }

    /// The job versions [`Normalizer::settle_job_versions`] will most likely answer, before the
    /// stored rows are merged: what the batch's own events say of each run. Exact for runs the
    /// store has not seen, so their stored rows can be read with the rest (and what decides them
    /// is kept, not worked out again when they settle).
    pub fn likely_job_versions(&mut self) -> Vec<String> {
        let mut ids: BTreeSet<String> = self.set.job_versions.keys().cloned().collect();
        self.likely = self
            .run_versions(|_| true)
            .into_iter()
            .map(RunVersion::decide)
            .collect();
        ids.extend(self.likely.values().map(|(_, _, parts)| parts.id.clone()));
        ids.into_iter().collect()
    }

    /// Each touched run with what decides its job version: its job, everything it read and
    /// wrote, its `sourceCodeLocation` and `sql` job facets, and its first event's time.
    fn run_versions(&self, wanted: impl Fn(&str) -> bool) -> Vec<RunVersion> {
        let b = &self.set;
        if !b.runs.keys().any(|run| wanted(run)) {
            return Vec::new();
        }
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
        for run in b.runs.values().filter(|r| wanted(&r.uuid)) {
            let (inputs, outputs) = io_by_run
                .get(run.uuid.as_str())
                .cloned()
                .unwrap_or_default();
            run_versions.push(RunVersion {
                run: run.uuid.clone(),
                job_id: run.job_id.clone(),
                inputs,
                outputs,
                location: run.job_facets.get("sourceCodeLocation"),
                sql: run.job_facets.get("sql"),
                from: run.timeline.first_event.unwrap_or(b.now),
            });
        }
        run_versions
    }

    /// Decides each touched run's job version from everything the run read and wrote (stored or
    /// new); answers the job versions whose stored rows [`Normalizer::finish`] needs.
    pub fn settle_job_versions(&mut self) -> Vec<String> {
        let mut decided = std::mem::take(&mut self.likely);
        decided.retain(|run, _| !self.stored_runs.contains(run));
        let rest = self.run_versions(|run| !decided.contains_key(run));
        decided.extend(rest.into_iter().map(RunVersion::decide));
        let b = &mut self.set;
        for (run, (job_id, from, parts)) in decided {
            let id = b.job_version_for(&job_id, parts, from).id.clone();
            b.runs.get_mut(&run).expect("run").job_version_id = Some(id);
        }
        b.job_versions.keys().cloned().collect()
    }

    /// Merges in the stored job versions and settles each dataset's current version and the
    /// graph's cuts.
    pub fn finish(mut self, stored: Vec<StoredJobVersion>) -> ChangeSet {
        let b = &mut self.set;
        // A version whose start the batch does not move is, for the graph, as it was (its id
        // says what it read and wrote): only new and moved versions change a job's history.
        let mut unmoved = BTreeSet::new();
        for r in stored {
            if let Some(jv) = b.job_versions.get_mut(&r.id) {
                if jv.valid_from >= r.valid_from {
                    unmoved.insert(r.id.clone());
                } else {
                    b.reshaped_jobs.insert(jv.job_id.clone());
                }
                jv.valid_from = jv.valid_from.min(r.valid_from);
                jv.defined_by_event |= r.defined_by_event;
                jv.created_at = r.created_at;
            }
        }
        b.new_job_versions = b
            .job_versions
            .keys()
            .filter(|id| !unmoved.contains(*id))
            .cloned()
            .collect();
        // Where a run left a version, that version may go or start later: its job's history
        // changes from no later than the run's first event (where the version began if this run
        // began it).
        let mut left_at: Vec<(String, Micros)> = Vec::new();
        for (uuid, old) in &self.stored_job_versions {
            let (Some(old), Some(run)) = (old, b.runs.get(uuid)) else {
                continue;
            };
            if run.job_version_id.as_deref() != Some(old.as_str()) {
                b.replaced_job_versions.push(old.clone());
                b.reshaped_jobs.insert(run.job_id.clone());
                left_at.push((
                    run.job_id.clone(),
                    run.timeline.first_event.unwrap_or(b.now),
                ));
            }
        }

        // Each dataset's current version: of the versions that may be current (a run wrote it or
        // an event described it), the one with the greatest (created_at, id), counting the best
        // stored one the batch does not touch; only when there is none at all, the greatest of
        // the others.
        let stored_current: BTreeMap<String, Option<(Micros, String)>> = b
            .datasets
            .values()
            .map(|d| (d.id.clone(), d.current.clone()))
            .collect();
        type Best<'a> = BTreeMap<&'a str, (bool, (Micros, &'a str))>;
        fn offer<'a>(best: &mut Best<'a>, dataset: &'a str, may: bool, at: Micros, id: &'a str) {
            let offer = (may, (at, id));
            let e = best.entry(dataset).or_insert(offer);
            if offer > *e {
                *e = offer;
            }
        }
        let mut best = Best::new();
        for v in b.versions.values() {
            offer(
                &mut best,
                &v.dataset_id,
                v.may_be_current,
                v.created_at,
                &v.id,
            );
        }
        for d in b.datasets.values() {
            // The stored current version is the best of the stored ones (every commit keeps it
            // so): when the batch does not touch it, it competes as it is; when the batch moved
            // it back in time, the best one the batch does not touch competes too.
            if let Some((at, id)) = &d.current {
                if best.contains_key(d.id.as_str()) && !b.versions.contains_key(id) {
                    offer(&mut best, &d.id, d.current_is_candidate, *at, id);
                }
            }
            if let Some((may, at, id)) = self.untouched.get(&d.id) {
                offer(&mut best, &d.id, *may, *at, id);
            }
        }
        let settled: Vec<(String, bool, (Micros, String))> = best
            .into_iter()
            .map(|(d, (may, (at, id)))| (d.to_string(), may, (at, id.to_string())))
            .collect();
        for (dataset, may, current) in settled {
            if let Some(ds) = b.datasets.get_mut(&dataset) {
                ds.current = Some(current);
                ds.current_is_candidate = may;
            }
        }

        // From when on the graph's histories changed (the graph reads back only that).
        let mut cuts = Cuts::default();
        for j in b.jobs.values() {
            cuts.jobs
                .insert((j.namespace.clone(), j.name.clone()), Micros::MAX);
        }
        let changed = b
            .new_job_versions
            .iter()
            .filter_map(|id| b.job_versions.get(id))
            .map(|jv| (&jv.job_id, jv.valid_from));
        for (job, from) in changed.chain(left_at.iter().map(|(j, t)| (j, *t))) {
            if let Some(j) = b.jobs.get(job) {
                let cut = cuts
                    .jobs
                    .entry((j.namespace.clone(), j.name.clone()))
                    .or_insert(Micros::MAX);
                *cut = (*cut).min(from);
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
        // Where the current version stayed, the history changed no later than the batch's
        // newest version of the dataset (whether it carries column lineage or not), counting
        // where a stored one it moved earlier was.
        for v in b.versions.values() {
            let Some(d) = b.datasets.get(&v.dataset_id) else {
                continue;
            };
            if stored_current.get(&d.id).and_then(Option::as_ref) != d.current.as_ref() {
                continue;
            }
            let was = self.stored_version_times.get(&v.id).copied();
            let end = cuts
                .column_ends
                .entry((d.namespace.clone(), d.name.clone()))
                .or_insert(Micros::MIN);
            *end = (*end).max(v.created_at).max(was.unwrap_or(Micros::MIN));
        }
        b.cuts = cuts;
        b.previous_current = stored_current;
        self.set
    }
}

/// The model's tables in memory, kept as the store keeps them: rows replaced whole on upsert,
/// `DO NOTHING` where the store says so, replaced job versions removed (or their `valid_from`
/// recomputed) as the store does. What the property tests and `bench prepare --normalize` store
/// into; each version is kept with its checksum.
#[derive(Debug, Default, PartialEq)]
pub struct MemoryTables {
    /// By name key: `(namespace, name, dataset id, symlink type)`.
    pub names: BTreeMap<String, NewName>,
    pub namespaces: BTreeSet<String>,
    pub sources: BTreeMap<String, Option<String>>,
    pub datasets: BTreeMap<String, DatasetState>,
    pub versions: BTreeMap<String, (VersionState, String)>,
    pub jobs: BTreeMap<String, JobState>,
    pub job_versions: BTreeMap<String, JobVersionState>,
    pub runs: BTreeMap<String, RunEntry>,
    pub io: BTreeMap<IoKey, IoState>,
}

impl MemoryTables {
    /// Stores one batch the way the store does: names, then the touched rows, then the
    /// settled job versions, then the change set's writes.
    pub fn store(&mut self, now: Micros, events: &[&LineageEvent]) -> ChangeSet {
        let known: Vec<(String, String, String)> = name_keys(events)
            .iter()
            .filter_map(|key| self.names.get(key))
            .map(|(ns, n, id, _)| (ns.clone(), n.clone(), id.clone()))
            .collect();
        // As the store does: normalized before the names are known, again only if they
        // disagree.
        let mut n = Normalizer::new(now, [], events);
        if !n.adopt_names(&known) {
            n = Normalizer::new(now, known, events);
        }
        let w = n.wanted();
        let likely = n.likely_job_versions();
        fn rows<T: Clone>(table: &BTreeMap<String, T>, ids: &[String]) -> Vec<T> {
            ids.iter().filter_map(|id| table.get(id).cloned()).collect()
        }
        let mut io = Vec::new();
        for run in &w.runs {
            let from = (run.clone(), "", String::new());
            io.extend(
                self.io
                    .range(from..)
                    .take_while(|(k, _)| &k.0 == run)
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        let stored = Stored {
            versions: w
                .versions
                .iter()
                .filter_map(|id| self.versions.get(id).map(|v| v.0.clone()))
                .collect(),
            datasets: rows(&self.datasets, &w.datasets),
            jobs: rows(&self.jobs, &w.jobs),
            runs: rows(&self.runs, &w.runs),
            io,
        };
        n.merge_stored(stored);
        let mut untouched = Vec::new();
        for (dataset, touched) in n.moved_back() {
            let best = self
                .versions
                .values()
                .map(|(v, _)| v)
                .filter(|v| v.dataset_id == dataset && !touched.contains(&v.id))
                .map(|v| (v.may_be_current, v.created_at, v.id.clone()))
                .max();
            untouched.extend(best.map(|b| (dataset, b)));
        }
        n.merge_untouched(untouched);
        // As the store reads them: those likely with the touched rows (some maybe not settled
        // on after all), then the rest of those settled on.
        let mut jv_ids = likely.clone();
        jv_ids.extend(
            n.settle_job_versions()
                .into_iter()
                .filter(|id| !likely.contains(id)),
        );
        let stored_jvs = jv_ids
            .iter()
            .filter_map(|id| self.job_versions.get(id))
            .map(StoredJobVersion::from)
            .collect();
        let set = n.finish(stored_jvs);
        self.write(&set);
        set
    }

    fn write(&mut self, set: &ChangeSet) {
        for (ns, n, id, ty) in &set.new_names {
            self.names
                .entry(ids::dataset_id(ns, n).to_string())
                .or_insert((ns.clone(), n.clone(), id.clone(), ty.clone()));
        }
        self.namespaces.extend(set.namespaces.iter().cloned());
        for (name, uri) in &set.sources {
            self.sources.entry(name.clone()).or_insert(uri.clone());
        }
        for d in set.datasets.values() {
            self.datasets.insert(d.id.clone(), d.clone());
        }
        for v in set.versions.values() {
            self.versions
                .insert(v.id.clone(), (v.clone(), v.checksum()));
        }
        for j in set.jobs.values() {
            self.jobs.insert(j.id.clone(), j.clone());
        }
        for jv in set.job_versions.values() {
            self.job_versions.insert(jv.id.clone(), jv.clone());
        }
        for r in set.runs.values() {
            self.runs.insert(r.uuid.clone(), r.clone());
        }
        for (k, io) in set.io.iter().filter(|(_, io)| io.dirty) {
            let stored = IoState {
                dirty: false,
                ..io.clone()
            };
            self.io.insert(k.clone(), stored);
        }
        for old in &set.replaced_job_versions {
            let first = self
                .runs
                .values()
                .filter(|r| r.job_version_id.as_deref() == Some(old.as_str()))
                .filter_map(|r| r.timeline.first_event)
                .min();
            match (self.job_versions.get_mut(old), first) {
                (Some(jv), _) if jv.defined_by_event => {}
                (Some(_), None) => {
                    self.job_versions.remove(old);
                }
                (Some(jv), Some(first)) => jv.valid_from = first,
                (None, _) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The normalizer's promises, without a database: an in-memory table set plays the store
    //! (rows replaced whole on upsert, `DO NOTHING` where the store says so, replaced job versions
    //! removed once nothing refers to them), and generated event sets are stored in every order,
    //! with duplicates, split into batches any way.

    use super::*;
    use crate::graph::LineageIndex;
    use crate::model::time;
    use proptest::prelude::*;

    const NOW: Micros = 1_900_000_000_000_000;

    /// One generated event: what kind, which run/job/dataset, when, and what it carries.
    #[derive(Debug, Clone)]
    struct Spec {
        kind: u8,
        index: usize,
        event_type: usize,
        second: u32,
        inputs: u8,
        outputs: u8,
        schema: usize,
        producer_version: Option<u8>,
        sql: usize,
    }

    const TYPES: [&str; 6] = ["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"];
    const RUNS: [&str; 4] = [
        "01890a5d-ac96-774b-bcce-b302099a8057",
        "01890a5d-ac96-774b-bcce-b302099a8058",
        "01890a5d-ac96-774b-bcce-b302099a8059",
        "01890a5d-ac96-774b-bcce-b302099a805a",
    ];

    fn spec() -> impl Strategy<Value = Spec> {
        (
            0u8..10,
            0usize..4,
            0usize..6,
            0u32..40,
            0u8..32,
            0u8..32,
            0usize..3,
            prop::option::weighted(0.3, 0u8..2),
            0usize..2,
        )
            .prop_map(
                |(kind, index, event_type, second, inputs, outputs, schema, pv, sql)| Spec {
                    kind,
                    index,
                    event_type,
                    second,
                    inputs,
                    outputs,
                    schema,
                    producer_version: pv,
                    sql,
                },
            )
    }

    fn dataset(i: usize, s: &Spec, output: bool) -> Value {
        let fields: Vec<Value> = (0..=s.schema)
            .map(|f| json!({"name": format!("c{f}"), "type": "int"}))
            .collect();
        let mut facets = json!({
            "schema": {"_producer": "p", "_schemaURL": "s", "fields": fields},
            "dataSource": {"_producer": "p", "_schemaURL": "s", "name": "warehouse",
                           "uri": "postgres://warehouse"},
        });
        // Inputs name a version too, sometimes: one no run may have written (it is only read).
        if let (true, Some(v)) = (output || s.sql == 1, s.producer_version) {
            facets["version"] =
                json!({"_producer": "p", "_schemaURL": "s", "datasetVersion": format!("v{v}")});
        }
        if s.schema > 0 {
            // Column lineage from another dataset's field, different across specs.
            let from = json!({"namespace": "db", "name": format!("t{}", (i + s.schema) % 5),
                              "field": format!("c{}", s.sql)});
            facets["columnLineage"] = json!({"_producer": "p", "_schemaURL": "s",
                "fields": {"c0": {"inputFields": [from]}}});
        }
        let mut d = json!({"namespace": "db", "name": format!("t{i}"), "facets": facets});
        if output {
            d["outputFacets"] = json!({"outputStatistics": {"_producer": "p", "_schemaURL": "s",
                                                           "rowCount": s.second}});
        }
        d
    }

    fn datasets(mask: u8, s: &Spec, output: bool) -> Vec<Value> {
        (0..5)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| dataset(i, s, output))
            .collect()
    }

    /// The event a spec describes. A run always belongs to the same job; job 2's runs have run 0
    /// of job 0 as their parent.
    fn event(s: &Spec) -> LineageEvent {
        let time = format!("2026-01-01T00:00:{:02}Z", s.second);
        let job_facets = json!({"sql": {"_producer": "p", "_schemaURL": "s",
                                        "query": format!("select {}", s.sql)}});
        let value = match s.kind {
            0 => json!({
                "eventTime": time, "producer": "p",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
                "dataset": dataset(s.index, s, false),
            }),
            1 => json!({
                "eventTime": time, "producer": "p",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
                "job": {"namespace": "etl", "name": format!("job{}", s.index % 3), "facets": job_facets},
                "inputs": datasets(s.inputs, s, false),
                "outputs": datasets(s.outputs, s, true),
            }),
            _ => {
                let job = s.index % 3;
                let mut run_facets = json!({});
                if job == 2 {
                    run_facets["parent"] = json!({"_producer": "p", "_schemaURL": "s",
                        "run": {"runId": RUNS[0]}, "job": {"namespace": "etl", "name": "job0"}});
                }
                json!({
                    "eventType": TYPES[s.event_type], "eventTime": time, "producer": "p",
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                    "run": {"runId": RUNS[s.index], "facets": run_facets},
                    "job": {"namespace": "etl", "name": format!("job{job}"), "facets": job_facets},
                    "inputs": datasets(s.inputs, s, false),
                    "outputs": datasets(s.outputs, s, true),
                })
            }
        };
        let Value::Object(value) = value else {
            panic!("an object")
        };
        LineageEvent::parse(value).expect("a valid event")
    }

    fn stored_at_once(events: &[LineageEvent]) -> MemoryTables {
        let mut t = MemoryTables::default();
        t.store(NOW, &events.iter().collect::<Vec<_>>());
        t
    }

    /// Events, then the same events shuffled with some sent twice, cut into batches.
    fn scenario() -> impl Strategy<Value = (Vec<Spec>, Vec<usize>, Vec<usize>, Vec<usize>)> {
        prop::collection::vec(spec(), 1..24).prop_flat_map(|specs| {
            let n = specs.len();
            (
                Just(specs),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                prop::collection::vec(0..n, 0..4),
                prop::collection::vec(0..n + 4, 0..4),
            )
        })
    }

    /// Sends `events` in `order`, then those of `twice` again, cut into batches at `cuts`.
    fn stored_in_batches(
        events: &[LineageEvent],
        order: &[usize],
        twice: &[usize],
        cuts: Vec<usize>,
    ) -> MemoryTables {
        let mut sent: Vec<LineageEvent> = order.iter().map(|&i| events[i].clone()).collect();
        sent.extend(twice.iter().map(|&i| events[i].clone()));
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(sent.len())).collect();
        cuts.push(sent.len());
        cuts.sort();
        let mut t = MemoryTables::default();
        let mut from = 0;
        for to in cuts {
            if to > from {
                t.store(NOW, &sent[from..to].iter().collect::<Vec<_>>());
                from = to;
            }
        }
        t
    }

    /// Where two table sets differ, line by line (their whole text is too long to read).
    fn differences(got: &MemoryTables, expected: &MemoryTables) -> String {
        let (a, b) = (format!("{got:#?}"), format!("{expected:#?}"));
        let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        let mut out = String::new();
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            if x != y {
                let context = a[i.saturating_sub(12)..i].join("\n");
                out += &format!("{context}\n  got: {x}\n  expected: {y}\n");
                break;
            }
        }
        out
    }

    /// The tables without what only the whole history can settle: when a job version a JobEvent
    /// defined holds from (a run's partial view can make it hold earlier, and the store keeps no
    /// record of the JobEvents' own times to recompute it from).
    fn settled(mut t: MemoryTables) -> MemoryTables {
        for jv in t.job_versions.values_mut().filter(|jv| jv.defined_by_event) {
            jv.valid_from = 0;
        }
        t
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            // The same cases on every run: a failure in CI is a change of behaviour, not luck.
            rng_seed: proptest::test_runner::RngSeed::Fixed(11),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// One batch: any order and any duplication of its events give the same change set.
        #[test]
        fn a_batch_does_not_depend_on_order_or_duplicates(
            (specs, order, twice, _) in scenario()
        ) {
            let events: Vec<LineageEvent> = specs.iter().map(event).collect();
            let expected = stored_at_once(&events);
            let got = stored_in_batches(&events, &order, &twice, Vec::new());
            prop_assert!(got == expected, "{}", differences(&got, &expected));
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Any order, any duplication, any cut into batches: the same tables.
        #[test]
        fn order_duplicates_and_batches_do_not_matter(
            (specs, order, twice, cuts) in scenario()
        ) {
            let events: Vec<LineageEvent> = specs.iter().map(event).collect();
            let expected = stored_at_once(&events);
            let got = stored_in_batches(&events, &order, &twice, cuts);
            let (got, expected) = (settled(got), settled(expected));
            prop_assert!(got == expected, "{}", differences(&got, &expected));
        }

        /// Events in time order (as emitters send them), duplicated and cut into batches any
        /// way: the same tables (the case most stores meet, so it gets its own cases).
        #[test]
        fn in_time_order_any_batches_give_the_same_tables(
            (specs, _, twice, cuts) in scenario()
        ) {
            let events: Vec<LineageEvent> = specs.iter().map(event).collect();
            let mut order: Vec<usize> = (0..events.len()).collect();
            order.sort_by_key(|&i| events[i].event_time);
            let mut twice = twice;
            twice.sort_by_key(|&i| events[i].event_time);
            let expected = stored_at_once(&events);
            let got = stored_in_batches(&events, &order, &twice, cuts);
            let (got, expected) = (settled(got), settled(expected));
            prop_assert!(got == expected, "{}", differences(&got, &expected));
        }
    }

    /// The graph a whole load of the tables gives (as the store's whole read does).
    fn whole_graph(t: &MemoryTables) -> LineageIndex {
        let mut ix = LineageIndex::new();
        for d in t.datasets.values() {
            ix.upsert_node(
                NodeKey::dataset(&d.namespace, &d.name),
                d.facets.string("datasetType", "datasetType"),
                d.deleted_at,
            );
        }
        for j in t.jobs.values() {
            let job = job_whole(t, j);
            // A job with no version is not in the graph.
            if !job.versions.is_empty() {
                ix.replace_job(&job);
            }
        }
        for d in t.datasets.values() {
            let history = columns_whole(t, d);
            if history.iter().any(|(_, edges)| !edges.is_empty()) {
                ix.set_column_history(
                    &NodeKey::dataset(&d.namespace, &d.name),
                    Micros::MIN,
                    history,
                );
            }
        }
        ix
    }

    /// A job's whole history as the store reads it: versions by start, then id.
    fn job_whole(t: &MemoryTables, j: &JobState) -> GraphJob {
        job_read(t, j, Micros::MIN, Micros::MAX)
    }

    /// A job's history as the store reads it back from `since`, up to the first version that
    /// begins after `end` (`Micros::MAX`: to the end).
    fn job_read(t: &MemoryTables, j: &JobState, since: Micros, end: Micros) -> GraphJob {
        let mut versions: Vec<&JobVersionState> = t
            .job_versions
            .values()
            .filter(|v| v.job_id == j.id)
            .collect();
        versions.sort_by(|a, b| (a.valid_from, &a.id).cmp(&(b.valid_from, &b.id)));
        let until = versions
            .iter()
            .map(|v| v.valid_from)
            .find(|t| *t > end)
            .unwrap_or(Micros::MAX);
        versions.retain(|v| v.valid_from >= since && v.valid_from < until);
        let names = |ids: &[String]| -> DatasetNames {
            ids.iter()
                .map(|id| {
                    (
                        t.datasets[id].namespace.clone(),
                        t.datasets[id].name.clone(),
                    )
                })
                .collect()
        };
        GraphJob {
            namespace: j.namespace.clone(),
            name: j.name.clone(),
            deleted_at: j.deleted_at,
            since,
            until,
            versions: versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let to = versions.get(i + 1).map_or(until, |n| n.valid_from);
                    let span = EdgeSpan {
                        from: v.valid_from,
                        to,
                    };
                    (span, names(&v.inputs), names(&v.outputs))
                })
                .collect(),
        }
    }

    /// A dataset's whole column history as the store reads it: the versions with a
    /// `columnLineage` facet by time, then id, the current one last.
    fn columns_whole(
        t: &MemoryTables,
        d: &DatasetState,
    ) -> Vec<(Micros, Vec<crate::model::graph::ColumnEdge>)> {
        let current = d.current.as_ref().map(|c| c.1.as_str());
        let mut versions: Vec<&VersionState> = t
            .versions
            .values()
            .map(|v| &v.0)
            .filter(|v| v.dataset_id == d.id)
            .filter(|v| v.facets.raw("columnLineage").is_some() || Some(v.id.as_str()) == current)
            .collect();
        versions.sort_by_key(|v| (Some(v.id.as_str()) == current, v.created_at, v.id.clone()));
        versions
            .iter()
            .map(|v| {
                let facet = v.facets.raw("columnLineage");
                let edges = facet.map(|f| crate::model::graph::column_edges(f.get()));
                (v.created_at, edges.unwrap_or_default())
            })
            .collect()
    }

    /// Stores the batches one after the other, taking each commit into a live graph from its
    /// delta (what the delta leaves to read back is read whole from the tables); answers the
    /// live graph and the final tables.
    fn live_graph(
        events: &[LineageEvent],
        order: &[usize],
        cuts: Vec<usize>,
    ) -> (LineageIndex, MemoryTables) {
        let sent: Vec<&LineageEvent> = order.iter().map(|&i| &events[i]).collect();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(sent.len())).collect();
        cuts.push(sent.len());
        cuts.sort();
        let mut t = MemoryTables::default();
        let mut live = LineageIndex::new();
        let mut from = 0;
        for to in cuts {
            if to <= from {
                continue;
            }
            let set = t.store(NOW, &sent[from..to]);
            from = to;
            let rest = live.apply_delta(set.graph_delta());
            for key in &rest.jobs {
                if let Some(j) = t
                    .jobs
                    .values()
                    .find(|j| (&j.namespace, &j.name) == (&key.0, &key.1))
                {
                    let (since, end) = (rest.cuts.job(key), rest.cuts.job_end(key));
                    live.replace_job(&job_read(&t, j, since, end));
                }
            }
            for (namespace, name) in &rest.datasets {
                if let Some(d) = t
                    .datasets
                    .values()
                    .find(|d| (&d.namespace, &d.name) == (namespace, name))
                {
                    live.set_column_history(
                        &NodeKey::dataset(namespace, name),
                        Micros::MIN,
                        columns_whole(&t, d),
                    );
                }
            }
        }
        (live, t)
    }

    proptest! {
        #![proptest_config(config())]

        /// Commits taken into the graph from their deltas (reading back only what a delta leaves)
        /// give the graph a whole load gives, in time order and in any order.
        #[test]
        fn the_graph_from_deltas_equals_the_graph_loaded_whole(
            (specs, order, _, cuts) in scenario()
        ) {
            let events: Vec<LineageEvent> = specs.iter().map(event).collect();
            let mut in_time: Vec<usize> = (0..events.len()).collect();
            in_time.sort_by_key(|&i| events[i].event_time);
            for order in [in_time, order] {
                let (live, tables) = live_graph(&events, &order, cuts.clone());
                prop_assert_eq!(live.picture(), whole_graph(&tables).picture());
            }
        }
    }

    #[test]
    fn a_later_complete_replaces_the_partial_job_version_of_its_start() {
        let spec = |event_type, second, outputs| Spec {
            kind: 2,
            index: 0,
            event_type,
            second,
            inputs: 1,
            outputs,
            schema: 0,
            producer_version: None,
            sql: 0,
        };
        let mut t = MemoryTables::default();
        t.store(NOW, &[&event(&spec(0, 1, 0))]);
        let partial: Vec<String> = t.job_versions.keys().cloned().collect();
        assert_eq!(partial.len(), 1);
        let set = t.store(NOW, &[&event(&spec(2, 2, 2))]);
        assert_eq!(set.replaced_job_versions, partial);
        let jv = t.job_versions.values().next().expect("one job version");
        assert_eq!(t.job_versions.len(), 1, "the START's version went");
        assert_eq!(jv.outputs.len(), 1);
        assert_eq!(
            jv.valid_from,
            time::to_micros(time::parse_event_time("2026-01-01T00:00:01Z").unwrap())
        );
    }

    #[test]
    fn the_likely_job_versions_of_new_runs_are_those_they_settle_on() {
        let spec = |index, event_type, inputs, outputs, sql| Spec {
            kind: 2,
            index,
            event_type,
            second: 1,
            inputs,
            outputs,
            schema: 0,
            producer_version: None,
            sql,
        };
        let events: Vec<LineageEvent> = (0..4)
            .map(|i| event(&spec(i, i % 3, (i % 3) as u8, (i % 2) as u8 + 1, i % 2)))
            .collect();
        let refs: Vec<&LineageEvent> = events.iter().collect();
        let mut n = Normalizer::new(NOW, Vec::new(), &refs);
        let likely = n.likely_job_versions();
        n.merge_stored(Stored::default());
        assert!(!likely.is_empty());
        assert_eq!(n.settle_job_versions(), likely);
    }

    #[test]
    fn a_stored_run_the_batch_adds_to_settles_on_a_version_not_likely() {
        let spec = |event_type, second, inputs, outputs| Spec {
            kind: 2,
            index: 0,
            event_type,
            second,
            inputs,
            outputs,
            schema: 0,
            producer_version: None,
            sql: 0,
        };
        let mut t = MemoryTables::default();
        t.store(NOW, &[&event(&spec(0, 1, 1, 0))]);
        let complete = event(&spec(2, 2, 0, 2));
        let mut n = Normalizer::new(NOW, Vec::new(), &[&complete]);
        let likely = n.likely_job_versions();
        // The COMPLETE alone names the run's outputs, not the input its START stored: the store
        // reads the version settled on in a round trip of its own.
        t.store(NOW, &[&complete]);
        let settled = t
            .runs
            .values()
            .next()
            .and_then(|r| r.job_version_id.clone());
        let settled = settled.expect("the run has a job version");
        assert!(!likely.contains(&settled), "{likely:?} {settled}");
    }

    /// The names the store holds for a batch, as [`MemoryTables::store`] reads them.
    fn known_names(t: &MemoryTables, events: &[&LineageEvent]) -> Vec<(String, String, String)> {
        name_keys(events)
            .iter()
            .filter_map(|key| t.names.get(key))
            .map(|(ns, n, id, _)| (ns.clone(), n.clone(), id.clone()))
            .collect()
    }

    #[test]
    fn a_batch_normalized_before_its_names_are_known_is_the_one_made_with_them() {
        let spec = |index, second, inputs, outputs| Spec {
            kind: 2,
            index,
            event_type: 2,
            second,
            inputs,
            outputs,
            schema: 1,
            producer_version: None,
            sql: 0,
        };
        let mut t = MemoryTables::default();
        t.store(NOW, &[&event(&spec(0, 1, 0b00011, 0b00100))]);
        let later = [event(&spec(1, 2, 0b00110, 0b11000))];
        let refs: Vec<&LineageEvent> = later.iter().collect();
        let known = known_names(&t, &refs);
        assert!(!known.is_empty(), "some of its names are stored");
        let mut guessed = Normalizer::new(NOW, [], &refs);
        assert!(guessed.adopt_names(&known));
        let mut made = Normalizer::new(NOW, known, &refs);
        assert_eq!(guessed.wanted(), made.wanted());
        assert_eq!(guessed.likely_job_versions(), made.likely_job_versions());
        let (g, m) = (&guessed.set, &made.set);
        assert_eq!(g.names, m.names);
        assert_eq!(g.new_names, m.new_names);
        assert_eq!(g.namespaces, m.namespaces);
        assert_eq!(g.datasets, m.datasets);
        assert_eq!(g.versions, m.versions);
        assert_eq!(g.runs, m.runs);
        assert_eq!(g.io, m.io);
    }

    #[test]
    fn a_name_stored_as_another_datasets_alias_undoes_the_guess() {
        let with_link = |name: &str, link: &str| {
            let Value::Object(value) = json!({
                "eventTime": "2026-01-01T00:00:01Z", "producer": "p",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
                "dataset": {"namespace": "s3://b", "name": name, "facets": {"symlinks": {
                    "_producer": "p", "_schemaURL": "s",
                    "identifiers": [{"namespace": "hive", "name": link, "type": "TABLE"}]}}},
            }) else {
                panic!("an object")
            };
            LineageEvent::parse(value).expect("a valid event")
        };
        let mut t = MemoryTables::default();
        // `hive.orders` is stored as an alias of `/orders`.
        t.store(NOW, &[&with_link("/orders", "orders")]);
        let orders = ids::dataset_id("s3://b", "/orders").to_string();
        // A new path naming the same table joins that dataset: the guess (a new dataset of its
        // own) does not hold.
        let copy = with_link("/orders-copy", "orders");
        let known = known_names(&t, &[&copy]);
        let mut guessed = Normalizer::new(NOW, [], &[&copy]);
        assert!(!guessed.adopt_names(&known));
        let made = Normalizer::new(NOW, known, &[&copy]);
        assert_eq!(made.wanted().datasets, vec![orders.clone()]);
        assert_ne!(guessed.wanted().datasets, made.wanted().datasets);
        t.store(NOW, &[&copy]);
        let key = ids::dataset_id("s3://b", "/orders-copy").to_string();
        assert_eq!(t.names[&key].2, orders);
        assert_eq!(t.datasets.len(), 1);
    }
}
