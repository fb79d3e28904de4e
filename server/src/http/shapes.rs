//! Marquez's JSON shapes for namespaces, sources, datasets, versions, jobs, runs and tags.

use serde_json::{json, Map, Value};

use crate::model::time::iso;
use crate::store::{
    Dataset, DatasetTags, DatasetVersion, JobSummary, Namespace, Run, RunIo, Source,
};

fn fields(facets: &Map<String, Value>, tags: Option<&DatasetTags>) -> Vec<Value> {
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
            let field_tags = tags.and_then(|t| t.fields.get(name)).cloned().unwrap_or_default();
            json!({"name": name, "type": f.get("type"), "tags": field_tags, "description": f.get("description")})
        })
        .collect()
}

/// The `documentation` facet's description.
pub fn description(facets: &Map<String, Value>) -> Value {
    facets
        .get("documentation")
        .and_then(|d| d.get("description"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn lifecycle(facets: &Map<String, Value>) -> Value {
    facets
        .get("lifecycleStateChange")
        .and_then(|d| d.get("lifecycleStateChange"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The node id the UI and GraphQL use for a dataset.
pub fn dataset_node_id(namespace: &str, name: &str) -> String {
    format!("dataset:{namespace}:{name}")
}

/// The node id the UI and GraphQL use for a job.
pub fn job_node_id(namespace: &str, name: &str) -> String {
    format!("job:{namespace}:{name}")
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

pub fn dataset_json(d: &Dataset, tags: Option<&DatasetTags>) -> Value {
    json!({
        "id": {"namespace": d.namespace, "name": d.name},
        "type": d.dataset_type.as_deref().unwrap_or("DB_TABLE"),
        "name": d.name,
        "physicalName": d.name,
        "createdAt": iso(d.created_at),
        "updatedAt": iso(d.updated_at),
        "namespace": d.namespace,
        "sourceName": d.source_name,
        "fields": fields(&d.facets, tags),
        "tags": tags.map(|t| t.dataset.clone()).unwrap_or_default(),
        "lastModifiedAt": iso(d.updated_at),
        "lastLifecycleState": lifecycle(&d.facets),
        "description": description(&d.facets),
        "currentVersion": d.current_version,
        "facets": d.facets,
        "deleted": d.deleted_at.is_some(),
        "nodeId": dataset_node_id(&d.namespace, &d.name),
    })
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

fn io_json(io: &[RunIo]) -> Vec<Value> {
    io.iter()
        .map(|i| {
            json!({
                "datasetVersionId": {"namespace": i.namespace, "name": i.name, "version": i.version_id},
                "facets": i.facets,
            })
        })
        .collect()
}

/// A run in Marquez's shape.
pub fn run_json(r: &Run) -> Value {
    let duration = r.started_at.zip(r.ended_at).map(|(s, e)| (e - s) / 1000);
    json!({
        "id": r.uuid,
        "runId": r.run_id,
        "createdAt": iso(r.created_at),
        "updatedAt": iso(r.updated_at),
        "nominalStartTime": r.nominal_start.map(iso),
        "nominalEndTime": r.nominal_end.map(iso),
        "state": r.state,
        "startedAt": r.started_at.map(iso),
        "endedAt": r.ended_at.map(iso),
        "durationMs": duration,
        "args": {},
        "jobVersion": {"namespace": r.job_namespace, "name": r.job_name, "version": r.job_version_id},
        "inputDatasetVersions": io_json(&r.inputs),
        "outputDatasetVersions": io_json(&r.outputs),
        "parentRunId": r.parent_run_uuid,
        "context": {},
        "facets": r.facets,
    })
}

fn names(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .map(|(ns, n)| json!({"namespace": ns, "name": n}))
        .collect()
}

pub fn job_json(s: &JobSummary, parent_name: Option<&str>) -> Value {
    let j = &s.job;
    let simple = j.name.rsplit('.').next().unwrap_or(&j.name);
    json!({
        "id": {"namespace": j.namespace, "name": j.name},
        "type": j.job_type.as_deref().unwrap_or("BATCH"),
        "name": j.name,
        "simpleName": simple,
        "parentJobName": parent_name,
        "parentJobUuid": j.parent_job_id,
        "createdAt": iso(j.created_at),
        "updatedAt": iso(j.updated_at),
        "namespace": j.namespace,
        "inputs": names(&s.inputs),
        "outputs": names(&s.outputs),
        "location": j.facets.get("sourceCodeLocation").and_then(|l| l.get("url")),
        "description": description(&j.facets),
        "latestRun": s.latest_run.as_ref().map(run_json),
        "latestRuns": s.latest_run.as_ref().map(|r| vec![run_json(r)]).unwrap_or_default(),
        "facets": j.facets,
        "currentVersion": s.current_version,
        "tags": s.tags,
        "labels": [],
        "deleted": j.deleted_at.is_some(),
        "nodeId": job_node_id(&j.namespace, &j.name),
    })
}
