//! Marquez-shaped reads of single objects: a dataset, its versions, a job, a run.

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::model::time::iso;
use crate::store::{Dataset, DatasetVersion, Run, RunIo};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/namespaces/{ns}/datasets/{name}",
        web::get().to(get_dataset),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/versions",
        web::get().to(list_dataset_versions),
    )
    .route("/namespaces/{ns}/jobs/{name}", web::get().to(get_job))
    .route("/jobs/runs/{id}", web::get().to(get_run));
}

fn fields(facets: &Map<String, Value>) -> Vec<Value> {
    facets
        .get("schema")
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .map(|f| {
                    json!({
                        "name": f.get("name"),
                        "type": f.get("type"),
                        "tags": [],
                        "description": f.get("description"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn description(facets: &Map<String, Value>) -> Value {
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

fn dataset_json(d: &Dataset) -> Value {
    json!({
        "id": {"namespace": d.namespace, "name": d.name},
        "type": d.dataset_type.as_deref().unwrap_or("DB_TABLE"),
        "name": d.name,
        "physicalName": d.name,
        "createdAt": iso(d.created_at),
        "updatedAt": iso(d.updated_at),
        "namespace": d.namespace,
        "sourceName": d.source_name,
        "fields": fields(&d.facets),
        "tags": [],
        "lastModifiedAt": iso(d.updated_at),
        "lastLifecycleState": lifecycle(&d.facets),
        "description": description(&d.facets),
        "currentVersion": d.current_version,
        "facets": d.facets,
        "deleted": d.deleted_at.is_some(),
    })
}

fn version_json(d: &Dataset, v: &DatasetVersion) -> Value {
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
        "fields": fields(&v.facets),
        "tags": [],
        "lifecycleState": lifecycle(&v.facets),
        "description": description(&v.facets),
        "createdByRun": v.created_by_run.as_ref().map(|r| json!({"id": r})),
        "checksum": v.checksum,
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

async fn find_dataset(state: &AppState, ns: &str, name: &str) -> Result<Dataset, ApiError> {
    state.store.dataset(ns, name).await?.ok_or_else(|| {
        ApiError::NotFound(format!("dataset '{name}' not found in namespace '{ns}'"))
    })
}

async fn get_dataset(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (ns, name) = path.into_inner();
    Ok(HttpResponse::Ok().json(dataset_json(&find_dataset(&state, &ns, &name).await?)))
}

async fn list_dataset_versions(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (ns, name) = path.into_inner();
    let d = find_dataset(&state, &ns, &name).await?;
    let versions = state.store.dataset_versions(&d.id).await?;
    let list: Vec<Value> = versions.iter().map(|v| version_json(&d, v)).collect();
    Ok(HttpResponse::Ok().json(json!({"versions": list, "totalCount": versions.len()})))
}

async fn get_job(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (ns, name) = path.into_inner();
    let job =
        state.store.job(&ns, &name).await?.ok_or_else(|| {
            ApiError::NotFound(format!("job '{name}' not found in namespace '{ns}'"))
        })?;
    let versions = state.store.job_versions(&job.id).await?;
    let current = versions.last();
    Ok(HttpResponse::Ok().json(json!({
        "id": {"namespace": job.namespace, "name": job.name},
        "type": job.job_type.as_deref().unwrap_or("BATCH"),
        "name": job.name,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "namespace": job.namespace,
        "currentVersion": current.map(|v| v.id.clone()),
        "versions": versions,
        "location": job.facets.get("sourceCodeLocation").and_then(|l| l.get("url")),
        "description": description(&job.facets),
        "facets": job.facets,
        "parentJobUuid": job.parent_job_id,
    })))
}

async fn get_run(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let uuid = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad("/id", format!("'{id}' is not a run id (a UUID)")))?;
    let run = state
        .store
        .run(uuid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run '{id}' not found")))?;
    Ok(HttpResponse::Ok().json(run_json(&run)))
}
