//! GraphQL over the catalog — namespaces, datasets and their versions, jobs, runs, search — with
//! Relay-style connections, plus the reproducibility queries and the version-tag mutations.

use std::sync::Arc;

use async_graphql::connection::{query, Connection, Edge};
use async_graphql::{ComplexObject, Context, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{bad_input, lineage, not_found, NodeKind};
use crate::graph::NodeKind as GraphNodeKind;
use crate::model::access::Caller;
use crate::model::time::{from_micros, now_micros, Micros};
use crate::repro::{
    self, ChangedInput, FieldInfo, Manifest, ReproError, Reproduction, VersionDiff, Versions,
};
use crate::store::{self, SearchQuery, Store};

/// The most items one page of a connection holds.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

fn time(t: Micros) -> DateTime<Utc> {
    from_micros(t)
}

fn store<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Arc<dyn Store>> {
    Ok(lineage(ctx)?.store())
}

fn repro_error(e: ReproError) -> async_graphql::Error {
    match e {
        ReproError::NotFound(m) => async_graphql::Error::new(m).extend_with_code("NOT_FOUND"),
        ReproError::BadInput(m) => bad_input(&m),
        // Kept whole: `hide_internal_errors` tells the kind from it and logs its chain.
        ReproError::Store(e) => e.into(),
    }
}

trait WithCode {
    fn extend_with_code(self, code: &'static str) -> Self;
}

impl WithCode for async_graphql::Error {
    fn extend_with_code(self, code: &'static str) -> Self {
        use async_graphql::ErrorExtensions;
        self.extend_with(|_, e| e.set("code", code))
    }
}

/// How many items a connection holds in all.
#[derive(SimpleObject)]
pub struct Total {
    pub total_count: i64,
}

type Page<T> = Connection<usize, T, Total>;

/// One page of `items` (already cut to the page, starting at `offset`) out of `total`.
fn page<T: async_graphql::OutputType>(items: Vec<T>, offset: usize, total: i64) -> Page<T> {
    let end = offset + items.len();
    let mut c = Connection::with_additional_fields(
        offset > 0,
        (end as i64) < total,
        Total { total_count: total },
    );
    c.edges.extend(
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Edge::new(offset + i, item)),
    );
    c
}

/// Runs a paged resolver: `fetch(offset, limit)` answers the page and the total.
async fn paged<T, F, Fut>(
    after: Option<String>,
    first: Option<i32>,
    fetch: F,
) -> async_graphql::Result<Page<T>>
where
    T: async_graphql::OutputType,
    F: FnOnce(usize, usize) -> Fut,
    Fut: std::future::Future<Output = async_graphql::Result<(Vec<T>, i64)>>,
{
    if first.is_some_and(|f| f < 0) {
        return Err(bad_input("first must be zero or more"));
    }
    query(
        after,
        None,
        first,
        None,
        |after: Option<usize>, _: Option<usize>, first, _| async move {
            let offset = after.map_or(0, |a| a + 1);
            let limit = first.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
            let (items, total) = fetch(offset, limit).await?;
            Ok::<_, async_graphql::Error>(page(items, offset, total))
        },
    )
    .await
}

/// A namespace.
#[derive(SimpleObject)]
pub struct Namespace {
    pub name: String,
    pub owner_name: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A schema field of a dataset's current version, with its tags.
#[derive(SimpleObject)]
pub struct Field {
    pub name: String,
    #[graphql(name = "type")]
    pub kind: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
}

/// A dataset.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Dataset {
    /// The node id lineage queries take (`dataset:NAMESPACE:NAME`).
    pub id: ID,
    pub namespace: String,
    pub name: String,
    pub dataset_type: Option<String>,
    pub source_name: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub fields: Vec<Field>,
    pub facets: Json<Map<String, Value>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted: bool,
    #[graphql(skip)]
    pub inner: store::Dataset,
}

fn description(facets: &Map<String, Value>) -> Option<String> {
    facets
        .get("documentation")
        .and_then(|d| d.get("description"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

async fn dataset_of(store: &dyn Store, d: store::Dataset) -> async_graphql::Result<Dataset> {
    let tags = store
        .dataset_tags(std::slice::from_ref(&d.id))
        .await?
        .remove(&d.id)
        .unwrap_or_default();
    let fields = d
        .facets
        .get("schema")
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| {
                    let name = f.get("name")?.as_str()?.to_string();
                    let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
                    Some(Field {
                        tags: tags.fields.get(&name).cloned().unwrap_or_default(),
                        kind: s("type"),
                        description: s("description"),
                        name,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Dataset {
        id: ID(crate::model::NodeId::dataset(&d.namespace, &d.name)),
        namespace: d.namespace.clone(),
        name: d.name.clone(),
        dataset_type: d.dataset_type.clone(),
        source_name: d.source_name.clone(),
        description: description(&d.facets),
        tags: tags.dataset,
        fields,
        facets: Json(d.facets.clone()),
        created_at: time(d.created_at),
        updated_at: time(d.updated_at),
        deleted: d.deleted_at.is_some(),
        inner: d,
    })
}

fn version_of(versions: &Versions, v: &store::DatasetVersion) -> DatasetVersion {
    DatasetVersion {
        id: ID(v.id.clone()),
        dataset_id: ID(crate::model::NodeId::dataset(
            &versions.dataset.namespace,
            &versions.dataset.name,
        )),
        producer_version: v.producer_version.clone(),
        created_at: time(v.created_at),
        checksum: v.checksum.clone(),
        checksum_valid: v.checksum_valid,
        tags: versions.tags_of(&v.id),
        fields: repro::fields_of(v),
        facets: Json(v.facets.clone()),
        output_facets: Json(v.io_facets.clone()),
        created_by_run_id: v.created_by_run.clone(),
        namespace: versions.dataset.namespace.clone(),
        name: versions.dataset.name.clone(),
    }
}

#[ComplexObject]
impl Dataset {
    /// The version current now.
    async fn current_version(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DatasetVersion>> {
        let Some(id) = &self.inner.current_version else {
            return Ok(None);
        };
        self.version(ctx, id.clone()).await
    }

    /// A version by id, tag or producer-supplied version.
    async fn version(
        &self,
        ctx: &Context<'_>,
        version: String,
    ) -> async_graphql::Result<Option<DatasetVersion>> {
        let versions = Versions::of(store(ctx)?.as_ref(), self.inner.clone())
            .await
            .map_err(repro_error)?;
        Ok(versions.resolve(&version).map(|v| version_of(&versions, v)))
    }

    /// Versions, newest first.
    async fn versions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<DatasetVersion>> {
        let store = store(ctx)?.clone();
        let inner = self.inner.clone();
        paged(after, first, |offset, limit| async move {
            let versions = Versions::of(store.as_ref(), inner)
                .await
                .map_err(repro_error)?;
            let list = versions
                .versions
                .iter()
                .skip(offset)
                .take(limit)
                .map(|v| version_of(&versions, v))
                .collect();
            Ok((list, versions.versions.len() as i64))
        })
        .await
    }

    /// Every tag ever put on a version of this dataset, oldest first (moved or removed ones
    /// carry `untaggedAt`).
    async fn version_tag_history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<VersionTag>> {
        Ok(store(ctx)?
            .version_tags(&self.inner.id, true)
            .await?
            .into_iter()
            .map(|t| VersionTag {
                tag: t.tag,
                version: ID(t.version_id),
                tagged_at: time(t.tagged_at),
                untagged_at: t.untagged_at.map(time),
            })
            .collect())
    }
}

/// A tag on a dataset version, as it was set.
#[derive(SimpleObject)]
pub struct VersionTag {
    pub tag: String,
    pub version: ID,
    pub tagged_at: DateTime<Utc>,
    pub untagged_at: Option<DateTime<Utc>>,
}

/// One immutable version of a dataset.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct DatasetVersion {
    pub id: ID,
    pub dataset_id: ID,
    /// The id the producer gave this version (Delta, Iceberg, lakeFS, DVC …).
    pub producer_version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub checksum: String,
    /// Whether the checksum recomputed on this read matches the stored one.
    pub checksum_valid: bool,
    /// Its version tags (`v1.2.0`, …).
    pub tags: Vec<String>,
    pub fields: Vec<FieldInfo>,
    pub facets: Json<Map<String, Value>>,
    /// Facets of the write that made it (`outputStatistics`, …).
    pub output_facets: Json<Map<String, Value>>,
    #[graphql(skip)]
    pub created_by_run_id: Option<String>,
    #[graphql(skip)]
    pub namespace: String,
    #[graphql(skip)]
    pub name: String,
}

/// Whether a version's snapshot can still be read where the data lives.
#[derive(SimpleObject)]
pub struct SnapshotState {
    /// `present`, `gone`, `unchecked` (the storage could not be asked) or `none` (no snapshot
    /// id, or a tool other than Delta, Iceberg, DVC and lakeFS).
    pub state: String,
    /// What was found, or why not.
    pub detail: String,
}

#[ComplexObject]
impl DatasetVersion {
    /// Asks the storage whether this version's snapshot can still be read: the Delta log and
    /// data files, the Iceberg snapshot and manifest list, the DVC object, the lakeFS commit (as
    /// `tributary check --storage`).
    async fn snapshot(&self) -> SnapshotState {
        use crate::snapshots::{for_server, probe_facets, state_of};
        let facets = [&self.facets.0, &self.output_facets.0];
        let probe = probe_facets(
            for_server(),
            &self.namespace,
            &self.name,
            self.producer_version.as_deref(),
            &facets,
        )
        .await;
        let (state, detail) = state_of(probe);
        SnapshotState {
            state: state.into(),
            detail,
        }
    }

    /// The run that wrote this version.
    async fn created_by_run(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Run>> {
        let Some(id) = self
            .created_by_run_id
            .as_deref()
            .and_then(|r| Uuid::parse_str(r).ok())
        else {
            return Ok(None);
        };
        Ok(store(ctx)?.run(id).await?.map(Run))
    }
}

/// A job version: what the job read and wrote, and when that held.
#[derive(SimpleObject)]
pub struct JobVersion {
    pub id: ID,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub inputs: Vec<ID>,
    pub outputs: Vec<ID>,
    pub location: Option<Json<Value>>,
    pub sql: Option<String>,
}

/// Job versions with their inputs and outputs as node ids.
async fn job_versions_of(
    store: &dyn Store,
    versions: Vec<store::JobVersion>,
) -> async_graphql::Result<Vec<JobVersion>> {
    let ids: Vec<String> = versions
        .iter()
        .flat_map(|v| v.inputs.iter().chain(&v.outputs).cloned())
        .collect();
    let names = store.dataset_names(&ids).await?;
    let node = |id: String| match names.get(&id) {
        Some((ns, name)) => ID(crate::model::NodeId::dataset(ns, name)),
        None => ID(id),
    };
    Ok(versions
        .into_iter()
        .map(|v| JobVersion {
            id: ID(v.id),
            valid_from: time(v.valid_from),
            valid_to: v.valid_to.map(time),
            inputs: v.inputs.into_iter().map(node).collect(),
            outputs: v.outputs.into_iter().map(node).collect(),
            location: v.location.map(Json),
            sql: v.sql,
        })
        .collect())
}

/// A job.
pub struct Job(store::Job);

#[Object]
impl Job {
    /// The node id lineage queries take (`job:NAMESPACE:NAME`).
    async fn id(&self) -> ID {
        ID(crate::model::NodeId::job(&self.0.namespace, &self.0.name))
    }
    async fn namespace(&self) -> &str {
        &self.0.namespace
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> Option<&str> {
        self.0.job_type.as_deref()
    }
    async fn description(&self) -> Option<String> {
        description(&self.0.facets)
    }
    /// The `sourceCodeLocation` facet's URL.
    async fn location(&self) -> Option<&str> {
        self.0
            .facets
            .get("sourceCodeLocation")
            .and_then(|l| l.get("url"))
            .and_then(Value::as_str)
    }
    async fn facets(&self) -> Json<&Map<String, Value>> {
        Json(&self.0.facets)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        time(self.0.updated_at)
    }
    async fn deleted(&self) -> bool {
        self.0.deleted_at.is_some()
    }
    /// Versions, oldest first, each with when it held.
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<JobVersion>> {
        let store = store(ctx)?.as_ref();
        job_versions_of(store, store.job_versions(&self.0.id).await?).await
    }
    /// The version that holds now.
    async fn current_version(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<JobVersion>> {
        let store = store(ctx)?.as_ref();
        let current = store.job_versions(&self.0.id).await?.pop();
        Ok(job_versions_of(store, current.into_iter().collect())
            .await?
            .pop())
    }
    /// Runs, newest first.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Run>> {
        let store = store(ctx)?.clone();
        let id = self.0.id.clone();
        paged(after, first, |offset, limit| async move {
            let (runs, total) = store.job_runs(&id, limit as i64, offset as i64).await?;
            Ok((runs.into_iter().map(Run).collect(), total))
        })
        .await
    }
    /// The newest run.
    async fn latest_run(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Run>> {
        let (mut runs, _) = store(ctx)?.job_runs(&self.0.id, 1, 0).await?;
        Ok(runs.pop().map(Run))
    }
}

/// A dataset a run read or wrote, bound to the version it saw or made.
#[derive(SimpleObject)]
pub struct RunDataset {
    pub dataset_id: ID,
    pub namespace: String,
    pub name: String,
    pub version: Option<ID>,
    pub facets: Json<Map<String, Value>>,
}

fn run_datasets(list: &[store::RunIo]) -> Vec<RunDataset> {
    list.iter()
        .map(|io| RunDataset {
            dataset_id: ID(crate::model::NodeId::dataset(&io.namespace, &io.name)),
            namespace: io.namespace.clone(),
            name: io.name.clone(),
            version: io.version_id.clone().map(ID),
            facets: Json(io.facets.clone()),
        })
        .collect()
}

/// A run.
pub struct Run(store::Run);

#[Object]
impl Run {
    async fn id(&self) -> ID {
        ID(self.0.uuid.clone())
    }
    /// NEW, RUNNING, COMPLETED, FAILED or ABORTED.
    async fn state(&self) -> &str {
        &self.0.state
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at.map(time)
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at.map(time)
    }
    async fn duration_ms(&self) -> Option<i64> {
        self.0
            .started_at
            .zip(self.0.ended_at)
            .map(|(s, e)| (e - s) / 1000)
    }
    async fn nominal_start_time(&self) -> Option<DateTime<Utc>> {
        self.0.nominal_start.map(time)
    }
    async fn nominal_end_time(&self) -> Option<DateTime<Utc>> {
        self.0.nominal_end.map(time)
    }
    async fn parent_run_id(&self) -> Option<ID> {
        self.0.parent_run_uuid.clone().map(ID)
    }
    async fn facets(&self) -> Json<&Map<String, Value>> {
        Json(&self.0.facets)
    }
    /// The job's facets as this run's events carried them.
    async fn job_facets(&self) -> Json<&Map<String, Value>> {
        Json(&self.0.job_facets)
    }
    async fn job(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Job>> {
        Ok(store(ctx)?
            .job(&self.0.job_namespace, &self.0.job_name)
            .await?
            .map(Job))
    }
    /// The job version this run executed.
    async fn job_version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<JobVersion>> {
        let (Some(v), Some(job)) = (
            &self.0.job_version_id,
            store(ctx)?
                .job(&self.0.job_namespace, &self.0.job_name)
                .await?,
        ) else {
            return Ok(None);
        };
        let store = store(ctx)?.as_ref();
        let found = store
            .job_versions(&job.id)
            .await?
            .into_iter()
            .find(|jv| &jv.id == v);
        Ok(job_versions_of(store, found.into_iter().collect())
            .await?
            .pop())
    }
    async fn inputs(&self) -> Vec<RunDataset> {
        run_datasets(&self.0.inputs)
    }
    async fn outputs(&self) -> Vec<RunDataset> {
        run_datasets(&self.0.outputs)
    }
    /// What it takes to reproduce this run (see `Query.manifest`).
    async fn manifest(
        &self,
        ctx: &Context<'_>,
        depth: Option<i32>,
    ) -> async_graphql::Result<Manifest> {
        manifest_of(ctx, &self.0.uuid, depth).await
    }
    /// Inputs whose dataset moved on since this run read them.
    async fn changed_inputs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChangedInput>> {
        repro::changed_inputs(store(ctx)?.as_ref(), &self.0.uuid)
            .await
            .map_err(repro_error)
    }
}

async fn manifest_of(
    ctx: &Context<'_>,
    run_id: &str,
    depth: Option<i32>,
) -> async_graphql::Result<Manifest> {
    let depth = depth.unwrap_or(0);
    if !(0..=repro::MAX_MANIFEST_DEPTH as i32).contains(&depth) {
        return Err(bad_input(&format!(
            "depth is between 0 and {}",
            repro::MAX_MANIFEST_DEPTH
        )));
    }
    repro::manifest(store(ctx)?.as_ref(), run_id, depth as u32)
        .await
        .map_err(repro_error)
}

/// A search hit.
#[derive(SimpleObject)]
pub struct SearchResult {
    /// The node id lineage queries take.
    pub id: ID,
    pub kind: NodeKind,
    pub namespace: String,
    pub name: String,
    pub updated_at: DateTime<Utc>,
}

/// Splits a node id into namespace and name, by the nodes the graph knows (once it has every
/// commit answered before: a node an answered event made is known).
async fn node_key(
    ctx: &Context<'_>,
    id: &str,
    kind: GraphNodeKind,
) -> async_graphql::Result<(String, String)> {
    let index = lineage(ctx)?.read_settled().await;
    let n = index.resolve(id).ok_or_else(|| not_found(id))?;
    let key = &index.node(n).key;
    if key.kind != kind {
        let what = format!("{kind:?}").to_lowercase();
        return Err(bad_input(&format!("'{id}' is not a {what}")));
    }
    Ok((key.namespace.to_string(), key.name.to_string()))
}

async fn dataset_key(ctx: &Context<'_>, id: &str) -> async_graphql::Result<(String, String)> {
    node_key(ctx, id, GraphNodeKind::Dataset).await
}

async fn versions_of(ctx: &Context<'_>, dataset_id: &str) -> async_graphql::Result<Versions> {
    let (ns, name) = dataset_key(ctx, dataset_id).await?;
    let store = store(ctx)?.as_ref();
    let d = repro::find_dataset(store, &ns, &name)
        .await
        .map_err(repro_error)?;
    Versions::of(store, d).await.map_err(repro_error)
}

/// Catalog and reproducibility queries.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Namespaces, by name.
    async fn namespaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Namespace>> {
        let store = store(ctx)?.clone();
        paged(after, first, |offset, limit| async move {
            let (list, total) = store.namespaces(limit as i64, offset as i64).await?;
            let list = list
                .into_iter()
                .map(|n| Namespace {
                    name: n.name,
                    owner_name: n.owner,
                    description: n.description,
                    created_at: time(n.created_at),
                    updated_at: time(n.updated_at),
                })
                .collect();
            Ok((list, total))
        })
        .await
    }

    /// A dataset by node id (`dataset:NAMESPACE:NAME`).
    async fn dataset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Dataset>> {
        let Ok((ns, name)) = dataset_key(ctx, &id).await else {
            return Ok(None);
        };
        let store = store(ctx)?.as_ref();
        match store.dataset(&ns, &name).await? {
            Some(d) => Ok(Some(dataset_of(store, d).await?)),
            None => Ok(None),
        }
    }

    /// A job by node id (`job:NAMESPACE:NAME`).
    async fn job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Job>> {
        let Ok((ns, name)) = node_key(ctx, &id, GraphNodeKind::Job).await else {
            return Ok(None);
        };
        Ok(store(ctx)?.job(&ns, &name).await?.map(Job))
    }

    /// A run by its id (a UUID).
    async fn run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Run>> {
        let uuid = repro::parse_run_id(&id).map_err(repro_error)?;
        Ok(store(ctx)?.run(uuid).await?.map(Run))
    }

    /// Datasets and jobs whose name contains `query` (case-insensitive), most recently updated
    /// first.
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        kind: Option<NodeKind>,
        namespace: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<SearchResult>> {
        let store = store(ctx)?.clone();
        paged(after, first, |offset, limit| async move {
            let q = SearchQuery {
                q: query,
                datasets: kind != Some(NodeKind::Job),
                jobs: kind != Some(NodeKind::Dataset),
                sort_by_name: false,
                namespace,
                before: None,
                after: None,
                limit: (offset + limit) as i64,
            };
            let (hits, total) = store.search(&q).await?;
            let list = hits
                .into_iter()
                .skip(offset)
                .map(|h| {
                    let dataset = h.kind == "DATASET";
                    SearchResult {
                        id: ID(format!(
                            "{}:{}:{}",
                            if dataset { "dataset" } else { "job" },
                            h.namespace,
                            h.name
                        )),
                        kind: if dataset {
                            NodeKind::Dataset
                        } else {
                            NodeKind::Job
                        },
                        namespace: h.namespace,
                        name: h.name,
                        updated_at: time(h.updated_at),
                    }
                })
                .collect();
            Ok((list, total))
        })
        .await
    }

    /// What changed between two versions of a dataset, each named by id, tag or producer version.
    async fn dataset_version_diff(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        from: ID,
        to: ID,
    ) -> async_graphql::Result<VersionDiff> {
        let versions = versions_of(ctx, &dataset_id).await?;
        repro::version_diff(store(ctx)?.as_ref(), &versions, &from, &to)
            .await
            .map_err(repro_error)
    }

    /// A dataset version (the current one without `version`; a version id, tag or producer
    /// version otherwise), the run that wrote it with its manifest to `depth` (default 1), and
    /// for every input the way to read that exact data again (DVC, Delta, Iceberg, lakeFS).
    async fn reproduce(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        version: Option<ID>,
        depth: Option<i32>,
    ) -> async_graphql::Result<Reproduction> {
        let depth = depth.unwrap_or(1);
        if !(0..=repro::MAX_MANIFEST_DEPTH as i32).contains(&depth) {
            return Err(bad_input(&format!(
                "depth is between 0 and {}",
                repro::MAX_MANIFEST_DEPTH
            )));
        }
        let (ns, name) = dataset_key(ctx, &dataset_id).await?;
        let store = store(ctx)?.as_ref();
        repro::reproduce(
            store,
            &ns,
            &name,
            version.as_ref().map(|v| v.as_str()),
            depth as u32,
        )
        .await
        .map_err(repro_error)
    }

    /// What it takes to reproduce a run: its job version and the exact input and output versions,
    /// and with `depth`, the same for the runs that wrote its inputs, recursively.
    async fn manifest(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
        depth: Option<i32>,
    ) -> async_graphql::Result<Manifest> {
        manifest_of(ctx, &run_id, depth).await
    }

    /// The inputs of a run whose current version differs from the one the run read: "what
    /// changed since this model was trained".
    async fn changed_inputs(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
    ) -> async_graphql::Result<Vec<ChangedInput>> {
        repro::changed_inputs(store(ctx)?.as_ref(), &run_id)
            .await
            .map_err(repro_error)
    }
}

/// Writes: version tags.
#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Puts a tag on a dataset version (named by id, tag or producer version), moving it from
    /// the version that had it; answers the version.
    async fn tag_dataset_version(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        version: ID,
        tag: String,
    ) -> async_graphql::Result<DatasetVersion> {
        set_tag(ctx, &dataset_id, &version, &tag, true).await
    }

    /// Takes a tag off a dataset version; answers the version.
    async fn untag_dataset_version(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        version: ID,
        tag: String,
    ) -> async_graphql::Result<DatasetVersion> {
        set_tag(ctx, &dataset_id, &version, &tag, false).await
    }
}

async fn set_tag(
    ctx: &Context<'_>,
    dataset_id: &str,
    version: &str,
    tag: &str,
    on: bool,
) -> async_graphql::Result<DatasetVersion> {
    let (ns, name) = dataset_key(ctx, dataset_id).await?;
    let store = store(ctx)?.as_ref();
    let (versions, id) = repro::tag_version(store, &ns, &name, version, tag, on)
        .await
        .map_err(repro_error)?;
    let v = versions.get(&id).map_err(repro_error)?;
    let caller = ctx.data_opt::<Caller>().cloned().unwrap_or_default();
    let action = if on {
        "mutation tagDatasetVersion"
    } else {
        "mutation untagDatasetVersion"
    };
    let entry = caller.did(
        action,
        format!("{ns}:{name} version {id} tag {tag}"),
        now_micros(),
    );
    store::record_audit(store, &entry).await;
    Ok(version_of(&versions, v))
}
