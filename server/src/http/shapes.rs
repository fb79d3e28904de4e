//! Marquez's JSON shapes for namespaces, sources, datasets, versions, jobs, runs and tags.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::model::time::iso;
use crate::model::NodeId;
use crate::store::{
    Dataset, DatasetTags, DatasetVersion, JobSummary, Namespace, Run, RunIo, Source,
};

/// A schema field as Marquez lists it.
#[derive(Serialize)]
pub struct FieldShape<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: Option<&'a Value>,
    tags: &'a [String],
    description: Option<&'a Value>,
}

fn fields<'a>(
    facets: &'a Map<String, Value>,
    tags: Option<&'a DatasetTags>,
) -> Vec<FieldShape<'a>> {
    let Some(fields) = facets
        .get("schema")
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|f| {
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
            FieldShape {
                name,
                kind: f.get("type"),
                tags: tags
                    .and_then(|t| t.fields.get(name))
                    .map_or(&[], Vec::as_slice),
                description: f.get("description"),
            }
        })
        .collect()
}

/// The `documentation` facet's description.
pub fn description(facets: &Map<String, Value>) -> Value {
    description_of(facets).cloned().unwrap_or(Value::Null)
}

fn description_of(facets: &Map<String, Value>) -> Option<&Value> {
    facets
        .get("documentation")
        .and_then(|d| d.get("description"))
}

fn lifecycle(facets: &Map<String, Value>) -> Option<&Value> {
    facets
        .get("lifecycleStateChange")
        .and_then(|d| d.get("lifecycleStateChange"))
}

pub fn namespace_json(n: &Namespace) -> Value {
    json!({
        "name": n.name,
        "createdAt": iso(n.created_at),
        "updatedAt": iso(n.updated_at),
        "ownerName": n.owner.as_deref().unwrap_or("anonymous"),
        "description": n.description,
        "isHidden": n.deleted_at.is_some(),
    })
}

pub fn source_json(s: &Source) -> Value {
    json!({
        "type": s.kind.as_deref().unwrap_or("UNKNOWN"),
        "name": s.name,
        "createdAt": iso(s.created_at),
        "updatedAt": iso(s.updated_at),
        "connectionUrl": s.connection_url,
        "description": null,
    })
}

/// `{namespace, name}`.
#[derive(Serialize)]
pub struct NameShape<'a> {
    namespace: &'a str,
    name: &'a str,
}

/// A dataset as `GET …/datasets/{name}` answers it, borrowing from the dataset: serialized once,
/// with no copy of its facets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetShape<'a> {
    id: NameShape<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
    physical_name: &'a str,
    created_at: String,
    updated_at: String,
    namespace: &'a str,
    source_name: Option<&'a str>,
    fields: Vec<FieldShape<'a>>,
    tags: &'a [String],
    last_modified_at: String,
    last_lifecycle_state: Option<&'a Value>,
    description: Option<&'a Value>,
    current_version: Option<&'a str>,
    facets: &'a Map<String, Value>,
    deleted: bool,
    node_id: String,
}

impl<'a> DatasetShape<'a> {
    pub fn of(d: &'a Dataset, tags: Option<&'a DatasetTags>) -> Self {
        DatasetShape {
            id: NameShape {
                namespace: &d.namespace,
                name: &d.name,
            },
            kind: d.dataset_type.as_deref().unwrap_or("DB_TABLE"),
            name: &d.name,
            physical_name: &d.name,
            created_at: iso(d.created_at),
            updated_at: iso(d.updated_at),
            namespace: &d.namespace,
            source_name: d.source_name.as_deref(),
            fields: fields(&d.facets, tags),
            tags: tags.map_or(&[], |t| t.dataset.as_slice()),
            last_modified_at: iso(d.updated_at),
            last_lifecycle_state: lifecycle(&d.facets),
            description: description_of(&d.facets),
            current_version: d.current_version.as_deref(),
            facets: &d.facets,
            deleted: d.deleted_at.is_some(),
            node_id: NodeId::dataset(&d.namespace, &d.name),
        }
    }
}

pub fn version_json(
    d: &Dataset,
    v: &DatasetVersion,
    run: Option<&Run>,
    version_tags: &[String],
) -> Value {
    json!({
        "id": {"namespace": d.namespace, "name": d.name, "version": v.id},
        "type": d.dataset_type.as_deref().unwrap_or("DB_TABLE"),
        "name": d.name,
        "physicalName": d.name,
        "createdAt": iso(v.created_at),
        "version": v.id,
        "producerVersion": v.producer_version,
        "namespace": d.namespace,
        "sourceName": d.source_name,
        "fields": fields(&v.facets, None),
        "tags": [],
        "lifecycleState": lifecycle(&v.facets),
        "description": description(&v.facets),
        "createdByRun": match run {
            Some(r) => run_json(r),
            None => v.created_by_run.as_ref().map_or(Value::Null, |r| json!({"id": r})),
        },
        "checksum": v.checksum,
        "checksumValid": v.checksum_valid,
        "versionTags": version_tags,
        "facets": v.facets,
        "outputFacets": v.io_facets,
    })
}

/// `{namespace, name, version}`.
#[derive(Serialize)]
pub struct VersionRefShape<'a> {
    namespace: &'a str,
    name: &'a str,
    version: Option<&'a str>,
}

/// A run's input or output version.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunIoShape<'a> {
    dataset_version_id: VersionRefShape<'a>,
    facets: &'a Map<String, Value>,
}

fn io_shapes(io: &[RunIo]) -> Vec<RunIoShape<'_>> {
    io.iter()
        .map(|i| RunIoShape {
            dataset_version_id: VersionRefShape {
                namespace: &i.namespace,
                name: &i.name,
                version: i.version_id.as_deref(),
            },
            facets: &i.facets,
        })
        .collect()
}

/// Empty JSON objects (`args`, `context`).
#[derive(Serialize)]
pub struct Empty {}

/// A run in Marquez's shape, borrowing from the run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunShape<'a> {
    id: &'a str,
    run_id: &'a str,
    created_at: String,
    updated_at: String,
    nominal_start_time: Option<String>,
    nominal_end_time: Option<String>,
    state: &'a str,
    started_at: Option<String>,
    ended_at: Option<String>,
    duration_ms: Option<i64>,
    args: Empty,
    job_version: VersionRefShape<'a>,
    input_dataset_versions: Vec<RunIoShape<'a>>,
    output_dataset_versions: Vec<RunIoShape<'a>>,
    parent_run_id: Option<&'a str>,
    context: Empty,
    facets: &'a Map<String, Value>,
}

impl<'a> RunShape<'a> {
    pub fn of(r: &'a Run) -> Self {
        RunShape {
            id: &r.uuid,
            run_id: &r.run_id,
            created_at: iso(r.created_at),
            updated_at: iso(r.updated_at),
            nominal_start_time: r.nominal_start.map(iso),
            nominal_end_time: r.nominal_end.map(iso),
            state: &r.state,
            started_at: r.started_at.map(iso),
            ended_at: r.ended_at.map(iso),
            duration_ms: r.started_at.zip(r.ended_at).map(|(s, e)| (e - s) / 1000),
            args: Empty {},
            job_version: VersionRefShape {
                namespace: &r.job_namespace,
                name: &r.job_name,
                version: r.job_version_id.as_deref(),
            },
            input_dataset_versions: io_shapes(&r.inputs),
            output_dataset_versions: io_shapes(&r.outputs),
            parent_run_id: r.parent_run_uuid.as_deref(),
            context: Empty {},
            facets: &r.facets,
        }
    }
}

/// A run in Marquez's shape.
pub fn run_json(r: &Run) -> Value {
    serde_json::to_value(RunShape::of(r)).expect("a run serialises")
}

fn names(list: &[(String, String)]) -> Vec<NameShape<'_>> {
    list.iter()
        .map(|(namespace, name)| NameShape { namespace, name })
        .collect()
}

/// A job as `GET …/jobs/{name}` answers it (with its latest run), borrowing from the summary.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobShape<'a> {
    id: NameShape<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
    simple_name: &'a str,
    parent_job_name: Option<&'a str>,
    parent_job_uuid: Option<&'a str>,
    created_at: String,
    updated_at: String,
    namespace: &'a str,
    inputs: Vec<NameShape<'a>>,
    outputs: Vec<NameShape<'a>>,
    location: Option<&'a Value>,
    description: Option<&'a Value>,
    latest_run: Option<RunShape<'a>>,
    latest_runs: Vec<RunShape<'a>>,
    facets: &'a Map<String, Value>,
    current_version: Option<&'a str>,
    tags: &'a [String],
    labels: [(); 0],
    deleted: bool,
    node_id: String,
}

impl<'a> JobShape<'a> {
    pub fn of(s: &'a JobSummary, parent_name: Option<&'a str>) -> Self {
        let j = &s.job;
        JobShape {
            id: NameShape {
                namespace: &j.namespace,
                name: &j.name,
            },
            kind: j.job_type.as_deref().unwrap_or("BATCH"),
            name: &j.name,
            simple_name: j.name.rsplit('.').next().unwrap_or(&j.name),
            parent_job_name: parent_name,
            parent_job_uuid: j.parent_job_id.as_deref(),
            created_at: iso(j.created_at),
            updated_at: iso(j.updated_at),
            namespace: &j.namespace,
            inputs: names(&s.inputs),
            outputs: names(&s.outputs),
            location: j
                .facets
                .get("sourceCodeLocation")
                .and_then(|l| l.get("url")),
            description: description_of(&j.facets),
            latest_run: s.latest_run.as_ref().map(RunShape::of),
            latest_runs: s.latest_run.iter().map(RunShape::of).collect(),
            facets: &j.facets,
            current_version: s.current_version.as_deref(),
            tags: &s.tags,
            labels: [],
            deleted: j.deleted_at.is_some(),
            node_id: NodeId::job(&j.namespace, &j.name),
        }
    }
}

/// A listing in Marquez's shape, `{"<key>": [...], "totalCount": n}`, serialized from typed items.
pub struct Listing<'a, T> {
    pub key: &'static str,
    pub items: &'a [T],
    pub total: i64,
}

impl<T: Serialize> Serialize for Listing<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(self.key, self.items)?;
        map.serialize_entry("totalCount", &self.total)?;
        map.end()
    }
}
