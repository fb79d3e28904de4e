//! Reproducibility: version references (ids, tags, producer versions), version diffs, run
//! manifests and input drift. Built on the `Store`; the HTTP, GraphQL and CLI faces share it.
//! Every answer is ordered deterministically, so the same store gives byte-identical output.

mod diff;
mod reproduce;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_graphql::SimpleObject;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub use diff::{
    diff, fields as fields_of, FieldChange, FieldInfo, StatDelta, Statistics, VersionDiff,
};
pub use reproduce::{reproduce, Recovery, Reproduction};

use crate::model::time::iso;
use crate::model::NodeId;
use crate::store::{Dataset, DatasetVersion, Run, Store, StoreError};

/// What can go wrong answering a reproducibility question.
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, ReproError>;

/// A live (not soft-deleted) dataset by name.
pub async fn find_dataset(store: &dyn Store, namespace: &str, name: &str) -> Result<Dataset> {
    match store.dataset(namespace, name).await? {
        Some(d) if d.deleted_at.is_none() => Ok(d),
        _ => Err(ReproError::NotFound(format!(
            "dataset '{name}' not found in namespace '{namespace}'"
        ))),
    }
}

/// A dataset's versions with the live tags of each.
pub struct Versions {
    pub dataset: Dataset,
    pub versions: Vec<DatasetVersion>,
    pub tags: HashMap<String, Vec<String>>,
}

impl Versions {
    /// Reads them.
    pub async fn of(store: &dyn Store, dataset: Dataset) -> Result<Self> {
        let versions = store.dataset_versions(&dataset.id).await?;
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        for t in store.version_tags(&dataset.id, false).await? {
            tags.entry(t.version_id).or_default().push(t.tag);
        }
        for list in tags.values_mut() {
            list.sort();
        }
        Ok(Versions {
            dataset,
            versions,
            tags,
        })
    }

    /// The version a reference names: a version id, else a live tag, else a producer-supplied
    /// version (Delta, Iceberg, lakeFS, DVC …).
    pub fn resolve(&self, reference: &str) -> Option<&DatasetVersion> {
        let by_id = self.versions.iter().find(|v| v.id == reference);
        let by_tag = || {
            self.tags
                .iter()
                .find(|(_, tags)| tags.iter().any(|t| t == reference))
                .and_then(|(id, _)| self.versions.iter().find(|v| &v.id == id))
        };
        let by_producer = || {
            self.versions
                .iter()
                .find(|v| v.producer_version.as_deref() == Some(reference))
        };
        by_id.or_else(by_tag).or_else(by_producer)
    }

    /// Like `resolve`, or a not-found error naming the reference.
    pub fn get(&self, reference: &str) -> Result<&DatasetVersion> {
        self.resolve(reference).ok_or_else(|| {
            ReproError::NotFound(format!(
                "version '{reference}' of dataset '{}' not found (not a version id, tag or producer version)",
                self.dataset.name
            ))
        })
    }

    /// The live tags of a version.
    pub fn tags_of(&self, version_id: &str) -> Vec<String> {
        self.tags.get(version_id).cloned().unwrap_or_default()
    }
}

/// Puts a tag on a version (resolved like any reference) or takes it off; answers the dataset's
/// versions with their tags as they now stand, and the id of the version tagged.
pub async fn tag_version(
    store: &dyn Store,
    namespace: &str,
    name: &str,
    reference: &str,
    tag: &str,
    on: bool,
) -> Result<(Versions, String)> {
    let tag = tag.trim();
    if tag.is_empty() || tag.len() > 255 || tag.chars().any(char::is_control) {
        return Err(ReproError::BadInput(
            "a tag is 1 to 255 characters, none of them control characters".into(),
        ));
    }
    let mut versions = Versions::of(store, find_dataset(store, namespace, name).await?).await?;
    let id = versions.get(reference)?.id.clone();
    if !on && !versions.tags_of(&id).iter().any(|t| t == tag) {
        return Err(ReproError::NotFound(format!(
            "version '{reference}' of dataset '{name}' has no tag '{tag}'"
        )));
    }
    store
        .set_version_tag(&versions.dataset.id, &id, tag, on)
        .await?;
    // What the store now holds: the tag left whichever version had it, and came here if `on`.
    for list in versions.tags.values_mut() {
        list.retain(|t| t != tag);
    }
    if on {
        let list = versions.tags.entry(id.clone()).or_default();
        list.push(tag.to_string());
        list.sort();
    }
    Ok((versions, id))
}

/// The deepest manifest one request may ask for.
pub const MAX_MANIFEST_DEPTH: u32 = 20;

/// A run as a manifest or a diff names it.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    pub id: String,
    pub state: String,
    pub job_namespace: String,
    pub job_name: String,
    pub job_version: Option<String>,
}

impl RunRef {
    fn of(r: &Run) -> Self {
        RunRef {
            id: r.uuid.clone(),
            state: r.state.clone(),
            job_namespace: r.job_namespace.clone(),
            job_name: r.job_name.clone(),
            job_version: r.job_version_id.clone(),
        }
    }
}

async fn run_ref(store: &dyn Store, id: Option<&str>) -> Result<Option<RunRef>> {
    let Some(uuid) = id.and_then(|r| Uuid::parse_str(r).ok()) else {
        return Ok(None);
    };
    Ok(store.run(uuid).await?.as_ref().map(RunRef::of))
}

/// Where a job's code lives (the `sourceCodeLocation` facet).
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceLocation {
    #[serde(rename = "type")]
    #[graphql(name = "type")]
    pub kind: Option<String>,
    pub url: Option<String>,
    pub repo_url: Option<String>,
    pub path: Option<String>,
    pub version: Option<String>,
    pub tag: Option<String>,
    pub branch: Option<String>,
}

impl SourceLocation {
    fn from_facet(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        v.is_object().then(|| SourceLocation {
            kind: s("type"),
            url: s("url"),
            repo_url: s("repoUrl"),
            path: s("path"),
            version: s("version"),
            tag: s("tag"),
            branch: s("branch"),
        })
    }
}

/// The job version a run executed.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManifestJob {
    pub namespace: String,
    pub name: String,
    pub version: Option<String>,
    pub source_code_location: Option<SourceLocation>,
    pub sql: Option<String>,
    /// Language of `sourceCode`, from the `sourceCode` job facet.
    pub source_language: Option<String>,
    pub source_code: Option<String>,
}

/// A dataset version a run read or wrote.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDataset {
    pub dataset_id: String,
    pub namespace: String,
    pub name: String,
    /// Tributary's version id; `None` when no version was known at the run's time.
    pub version: Option<String>,
    /// The id the producer gave the version (Delta, Iceberg, lakeFS, DVC …), when it sent one.
    pub producer_version: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Option<String>,
    pub schema: Vec<FieldInfo>,
    pub checksum: Option<String>,
    /// The run that wrote this version.
    pub produced_by_run: Option<String>,
}

/// What it takes to reproduce a run: its job version and the exact dataset versions it read
/// and wrote, and, to the depth asked for, the same for the runs that wrote its inputs.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub run_id: String,
    pub state: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub nominal_start_time: Option<String>,
    pub job: ManifestJob,
    pub inputs: Vec<ManifestDataset>,
    pub outputs: Vec<ManifestDataset>,
    pub upstream: Vec<Manifest>,
}

/// A manifest as TOML (the same content as its JSON form).
pub fn manifest_toml(m: &Manifest) -> String {
    // Through JSON values, so absent fields are left out rather than refused.
    let value = serde_json::to_value(m).expect("a manifest serialises");
    toml::to_string(&strip_nulls(value)).expect("a manifest is valid TOML")
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// The most runs one manifest holds, however deep it goes.
pub const MAX_MANIFEST_RUNS: usize = 1_000;

/// Reads versions of datasets once per manifest (and per reproduction built on one).
#[derive(Default)]
pub(crate) struct VersionCache {
    by_dataset: HashMap<String, Versions>,
}

impl VersionCache {
    pub(crate) async fn versions(
        &mut self,
        store: &dyn Store,
        namespace: &str,
        name: &str,
    ) -> Result<Option<&Versions>> {
        let key = NodeId::dataset(namespace, name);
        if !self.by_dataset.contains_key(&key) {
            let Some(d) = store.dataset(namespace, name).await? else {
                return Ok(None);
            };
            self.by_dataset
                .insert(key.clone(), Versions::of(store, d).await?);
        }
        Ok(self.by_dataset.get(&key))
    }
}

/// The manifest of a run, `depth` levels of producing runs deep.
pub async fn manifest(store: &dyn Store, run_id: &str, depth: u32) -> Result<Manifest> {
    manifest_with(store, run_id, depth, &mut VersionCache::default()).await
}

/// `manifest`, reading dataset versions through `cache` (which keeps them for the caller).
pub(crate) async fn manifest_with(
    store: &dyn Store,
    run_id: &str,
    depth: u32,
    cache: &mut VersionCache,
) -> Result<Manifest> {
    let uuid = parse_run_id(run_id)?;
    let run = store
        .run(uuid)
        .await?
        .ok_or_else(|| ReproError::NotFound(format!("run '{run_id}' not found")))?;
    let mut budget = MAX_MANIFEST_RUNS;
    let mut path = BTreeSet::new();
    build(store, run, depth, cache, &mut budget, &mut path).await
}

/// A run id as the API takes it: a UUID.
pub fn parse_run_id(run_id: &str) -> Result<Uuid> {
    Uuid::parse_str(run_id.trim())
        .map_err(|_| ReproError::BadInput(format!("'{run_id}' is not a run id (a UUID)")))
}

fn build<'a>(
    store: &'a dyn Store,
    run: Run,
    depth: u32,
    cache: &'a mut VersionCache,
    budget: &'a mut usize,
    path: &'a mut BTreeSet<String>,
) -> futures_util::future::BoxFuture<'a, Result<Manifest>> {
    Box::pin(async move {
        *budget = budget.saturating_sub(1);
        let job = manifest_job(store, &run).await?;
        let mut inputs = Vec::with_capacity(run.inputs.len());
        for io in &run.inputs {
            inputs.push(manifest_dataset(store, cache, io).await?);
        }
        let mut outputs = Vec::with_capacity(run.outputs.len());
        for io in &run.outputs {
            outputs.push(manifest_dataset(store, cache, io).await?);
        }
        inputs.sort_by(|a, b| a.dataset_id.cmp(&b.dataset_id));
        outputs.sort_by(|a, b| a.dataset_id.cmp(&b.dataset_id));

        let mut upstream = Vec::new();
        if depth > 0 {
            let producers: BTreeSet<&str> = inputs
                .iter()
                .filter_map(|i| i.produced_by_run.as_deref())
                .filter(|r| *r != run.uuid && !path.contains(*r))
                .collect();
            path.insert(run.uuid.clone());
            for producer in producers {
                if *budget == 0 {
                    break;
                }
                let Ok(uuid) = Uuid::parse_str(producer) else {
                    continue;
                };
                if let Some(r) = store.run(uuid).await? {
                    upstream.push(build(store, r, depth - 1, cache, budget, path).await?);
                }
            }
            path.remove(&run.uuid);
        }
        Ok(Manifest {
            run_id: run.uuid.clone(),
            state: run.state.clone(),
            started_at: run.started_at.map(iso),
            ended_at: run.ended_at.map(iso),
            nominal_start_time: run.nominal_start.map(iso),
            job,
            inputs,
            outputs,
            upstream,
        })
    })
}

async fn manifest_job(store: &dyn Store, run: &Run) -> Result<ManifestJob> {
    let version = match (
        &run.job_version_id,
        store.job(&run.job_namespace, &run.job_name).await?,
    ) {
        (Some(v), Some(job)) => store
            .job_versions(&job.id)
            .await?
            .into_iter()
            .find(|jv| &jv.id == v),
        _ => None,
    };
    let facet = |name: &str| run.job_facets.get(name);
    let location = version
        .as_ref()
        .and_then(|v| v.location.as_ref())
        .or_else(|| facet("sourceCodeLocation"))
        .and_then(SourceLocation::from_facet);
    let sql = version.as_ref().and_then(|v| v.sql.clone()).or_else(|| {
        facet("sql")
            .and_then(|s| s.get("query"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let code = facet("sourceCode");
    let code_field = |k: &str| {
        code.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(ManifestJob {
        namespace: run.job_namespace.clone(),
        name: run.job_name.clone(),
        version: run.job_version_id.clone(),
        source_code_location: location,
        sql,
        source_language: code_field("language"),
        source_code: code_field("sourceCode"),
    })
}

async fn manifest_dataset(
    store: &dyn Store,
    cache: &mut VersionCache,
    io: &crate::store::RunIo,
) -> Result<ManifestDataset> {
    let mut item = ManifestDataset {
        dataset_id: NodeId::dataset(&io.namespace, &io.name),
        namespace: io.namespace.clone(),
        name: io.name.clone(),
        version: io.version_id.clone(),
        producer_version: None,
        tags: Vec::new(),
        created_at: None,
        schema: Vec::new(),
        checksum: None,
        produced_by_run: None,
    };
    let (Some(vid), Some(versions)) = (
        &io.version_id,
        cache.versions(store, &io.namespace, &io.name).await?,
    ) else {
        return Ok(item);
    };
    if let Some(v) = versions.versions.iter().find(|v| &v.id == vid) {
        item.producer_version = v.producer_version.clone();
        item.tags = versions.tags_of(&v.id);
        item.created_at = Some(iso(v.created_at));
        item.schema = diff::fields(v);
        item.checksum = Some(v.checksum.clone());
        item.produced_by_run = v.created_by_run.clone();
    }
    Ok(item)
}

/// An input whose dataset has moved on since the run read it.
#[derive(Debug, Clone, Serialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ChangedInput {
    pub dataset_id: String,
    pub used_version: Option<String>,
    pub current_version: Option<String>,
    /// From the version the run used to the current one; `None` when either is unknown.
    pub diff: Option<VersionDiff>,
}

/// The inputs of a run whose current version differs from the one the run read.
pub async fn changed_inputs(store: &dyn Store, run_id: &str) -> Result<Vec<ChangedInput>> {
    let uuid = parse_run_id(run_id)?;
    let run = store
        .run(uuid)
        .await?
        .ok_or_else(|| ReproError::NotFound(format!("run '{run_id}' not found")))?;
    let mut out = BTreeMap::new();
    for io in &run.inputs {
        let Some(d) = store.dataset(&io.namespace, &io.name).await? else {
            continue;
        };
        if d.current_version == io.version_id {
            continue;
        }
        let versions = Versions::of(store, d).await?;
        let current = versions.dataset.current_version.clone();
        let diff = match (&io.version_id, &current) {
            (Some(from), Some(to)) => version_diff(store, &versions, from, to).await.ok(),
            _ => None,
        };
        let id = NodeId::dataset(&io.namespace, &io.name);
        out.insert(
            id.clone(),
            ChangedInput {
                dataset_id: id,
                used_version: io.version_id.clone(),
                current_version: current,
                diff,
            },
        );
    }
    Ok(out.into_values().collect())
}

/// The difference between two versions of a dataset, each named by id, tag or producer version.
pub async fn version_diff(
    store: &dyn Store,
    versions: &Versions,
    from: &str,
    to: &str,
) -> Result<VersionDiff> {
    let a = versions.get(from)?;
    let b = versions.get(to)?;
    let side = |v: &DatasetVersion, run: Option<RunRef>| diff::VersionSide {
        version: v.id.clone(),
        producer_version: v.producer_version.clone(),
        created_at: iso(v.created_at),
        tags: versions.tags_of(&v.id),
        created_by_run: run,
    };
    let from_side = side(a, run_ref(store, a.created_by_run.as_deref()).await?);
    let to_side = side(b, run_ref(store, b.created_by_run.as_deref()).await?);
    let d = &versions.dataset;
    Ok(diff(
        NodeId::dataset(&d.namespace, &d.name),
        a,
        b,
        from_side,
        to_side,
    ))
}

/// One run of an upstream run lineage (Marquez's `/runlineage/upstream` shape).
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamRun {
    pub job: UpstreamJob,
    pub run: UpstreamRunSummary,
    pub inputs: Vec<UpstreamInput>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamJob {
    pub namespace: String,
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamRunSummary {
    pub id: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamInput {
    pub namespace: String,
    pub name: String,
    pub version: Option<String>,
    pub produced_by_run_id: Option<String>,
}

/// The run and, level by level up to `depth`, the runs that wrote the versions it read; each
/// run once, nearest first.
pub async fn upstream_runs(
    store: &dyn Store,
    run_id: &str,
    depth: u32,
) -> Result<Vec<UpstreamRun>> {
    let uuid = parse_run_id(run_id)?;
    let first = store
        .run(uuid)
        .await?
        .ok_or_else(|| ReproError::NotFound(format!("run '{run_id}' not found")))?;
    let mut cache = VersionCache::default();
    let mut seen = BTreeSet::from([first.uuid.clone()]);
    let mut level = vec![first];
    let mut out = Vec::new();
    for d in 0..=depth {
        let mut next = BTreeSet::new();
        for run in &level {
            let mut inputs = Vec::with_capacity(run.inputs.len());
            for io in &run.inputs {
                let m = manifest_dataset(store, &mut cache, io).await?;
                if let Some(p) = &m.produced_by_run {
                    if d < depth && seen.insert(p.clone()) {
                        next.insert(p.clone());
                    }
                }
                inputs.push(UpstreamInput {
                    namespace: m.namespace,
                    name: m.name,
                    version: m.version,
                    produced_by_run_id: m.produced_by_run,
                });
            }
            out.push(UpstreamRun {
                job: UpstreamJob {
                    namespace: run.job_namespace.clone(),
                    name: run.job_name.clone(),
                    version: run.job_version_id.clone(),
                },
                run: UpstreamRunSummary {
                    id: run.uuid.clone(),
                    start: run.started_at.map(iso),
                    end: run.ended_at.map(iso),
                    status: run.state.clone(),
                },
                inputs,
            });
        }
        level = Vec::new();
        for id in next {
            if out.len() + level.len() >= MAX_MANIFEST_RUNS {
                break;
            }
            if let Some(r) = store.run(parse_run_id(&id)?).await? {
                level.push(r);
            }
        }
        if level.is_empty() {
            break;
        }
    }
    Ok(out)
}

/// What `--expect` names: a dataset, and optionally a tag (`@`) or a version (`#`).
#[derive(Debug, PartialEq)]
pub struct Expectation {
    pub namespace: String,
    pub name: String,
    pub tag: Option<String>,
    pub version: Option<String>,
}

/// Parses `NAMESPACE:NAME[@TAG|#VERSION]`. Namespaces may hold colons
/// (`postgres://db:5432`), so the name is what follows the last colon.
pub fn parse_expectation(s: &str) -> std::result::Result<Expectation, String> {
    let colon = s
        .rfind(':')
        .ok_or_else(|| format!("'{s}' is not NAMESPACE:NAME[@TAG|#VERSION]"))?;
    let (namespace, rest) = (&s[..colon], &s[colon + 1..]);
    let (name, tag, version) = match rest.find(['@', '#']) {
        Some(i) if rest.as_bytes()[i] == b'@' => (&rest[..i], Some(&rest[i + 1..]), None),
        Some(i) => (&rest[..i], None, Some(&rest[i + 1..])),
        None => (rest, None, None),
    };
    if namespace.is_empty() || name.is_empty() || tag == Some("") || version == Some("") {
        return Err(format!("'{s}' is not NAMESPACE:NAME[@TAG|#VERSION]"));
    }
    Ok(Expectation {
        namespace: namespace.into(),
        name: name.into(),
        tag: tag.map(str::to_string),
        version: version.map(str::to_string),
    })
}

/// A dataset version something depends on, and what.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub namespace: String,
    pub name: String,
    pub version: DatasetVersion,
    /// `tagged 'v1.0.0'`, or the run that read it and the tagged version that run wrote.
    pub why: String,
}

/// The dataset versions teams depend on: every tagged version, and every version the run that
/// wrote a tagged version read (its manifest's inputs). Each once, tagged ones first.
pub async fn depended_on(store: &dyn Store) -> Result<Vec<Dependency>> {
    let mut cache = VersionCache::default();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (namespace, name, version_id, tag) in store.tagged_versions().await? {
        let Some(version) = cache
            .versions(store, &namespace, &name)
            .await?
            .and_then(|vs| vs.versions.iter().find(|v| v.id == version_id).cloned())
        else {
            continue;
        };
        let label = format!("{namespace}:{name}@{tag}");
        let run = version.created_by_run.clone();
        if seen.insert((namespace.clone(), name.clone(), version_id)) {
            out.push(Dependency {
                namespace,
                name,
                version,
                why: format!("tagged '{tag}'"),
            });
        }
        let Some(run) = run else {
            continue;
        };
        let manifest = match manifest_with(store, &run, 0, &mut cache).await {
            Ok(m) => m,
            // Retention may have taken the run's details; its versions stay.
            Err(ReproError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        for input in manifest.inputs {
            let Some(id) = input.version else {
                continue;
            };
            let Some(version) = cache
                .versions(store, &input.namespace, &input.name)
                .await?
                .and_then(|vs| vs.versions.iter().find(|v| v.id == id).cloned())
            else {
                continue;
            };
            if seen.insert((input.namespace.clone(), input.name.clone(), id)) {
                out.push(Dependency {
                    namespace: input.namespace,
                    name: input.name,
                    version,
                    why: format!("read by run {run}, which wrote {label}"),
                });
            }
        }
    }
    Ok(out)
}
