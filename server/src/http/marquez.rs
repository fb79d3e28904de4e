//! Marquez's REST read API (and its tag and soft-delete writes) under `/api/v1`. The legacy write
//! endpoints Marquez deprecated answer with an error that points to `/api/v1/lineage`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::events::page;
use super::shapes::{self, namespace_json, source_json, version_json};
use super::{ApiError, AppState};
use crate::ingest::Deletion;
use crate::model::graph::GraphChange;
use crate::model::time::{iso, parse_event_time, to_micros};
use crate::repro::Versions;
use crate::store::{Dataset, Job, SearchQuery, TagTarget};

type Res = Result<HttpResponse, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/namespaces", web::get().to(list_namespaces))
        .route("/namespaces/{ns}", web::get().to(get_namespace))
        .route("/namespaces/{ns}", web::put().to(put_namespace))
        .route("/namespaces/{ns}", web::delete().to(delete_namespace))
        .route("/sources", web::get().to(list_sources))
        .route("/sources/{name}", web::get().to(get_source))
        .route("/sources/{name}", web::put().to(legacy_write))
        .route("/namespaces/{ns}/datasets", web::get().to(list_datasets))
        .route(
            "/namespaces/{ns}/datasets/{name}",
            web::get().to(get_dataset),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}",
            web::delete().to(delete_dataset),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}",
            web::put().to(legacy_write),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}/versions",
            web::get().to(list_dataset_versions),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}/versions/{version}",
            web::get().to(get_dataset_version),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}/tags/{tag}",
            web::post().to(tag_dataset),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}/tags/{tag}",
            web::delete().to(untag_dataset),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}/fields/{field}/tags/{tag}",
            web::post().to(tag_field),
        )
        .route(
            "/namespaces/{ns}/datasets/{name}/fields/{field}/tags/{tag}",
            web::delete().to(untag_field),
        )
        .route("/tags", web::get().to(list_tags))
        .route("/tags/{name}", web::put().to(put_tag))
        .route("/jobs", web::get().to(list_all_jobs))
        .route("/jobs/runs/{id}", web::get().to(get_run))
        .route("/jobs/runs/{id}/facets", web::get().to(get_run_facets))
        .route("/jobs/runs/{id}/{action}", web::post().to(legacy_write))
        .route("/namespaces/{ns}/jobs", web::get().to(list_jobs))
        .route("/namespaces/{ns}/jobs/{name}", web::get().to(get_job))
        .route("/namespaces/{ns}/jobs/{name}", web::delete().to(delete_job))
        .route("/namespaces/{ns}/jobs/{name}", web::put().to(legacy_write))
        .route(
            "/namespaces/{ns}/jobs/{name}/versions",
            web::get().to(list_job_versions),
        )
        .route(
            "/namespaces/{ns}/jobs/{name}/versions/{version}",
            web::get().to(get_job_version),
        )
        .route(
            "/namespaces/{ns}/jobs/{name}/runs",
            web::get().to(list_job_runs),
        )
        .route(
            "/namespaces/{ns}/jobs/{name}/runs",
            web::post().to(legacy_write),
        )
        .route(
            "/namespaces/{ns}/jobs/{name}/tags/{tag}",
            web::post().to(tag_job),
        )
        .route(
            "/namespaces/{ns}/jobs/{name}/tags/{tag}",
            web::delete().to(untag_job),
        )
        .route("/search", web::get().to(search));
}

#[derive(Deserialize)]
pub struct Paging {
    pub(super) limit: Option<i64>,
    pub(super) offset: Option<i64>,
}

async fn legacy_write() -> Res {
    Err(ApiError::LegacyWrite(
        "this Marquez write endpoint is deprecated and not supported: send OpenLineage events to POST /api/v1/lineage"
            .into(),
    ))
}

async fn require_namespace(state: &AppState, ns: &str) -> Result<(), ApiError> {
    match state.store.namespace(ns).await? {
        Some(n) if n.deleted_at.is_none() => Ok(()),
        _ => Err(ApiError::NotFound(format!("namespace '{ns}' not found"))),
    }
}

async fn list_namespaces(q: web::Query<Paging>, state: web::Data<AppState>) -> Res {
    let (limit, offset) = page(q.limit, q.offset)?;
    let (list, total) = state.store.namespaces(limit, offset).await?;
    let list: Vec<Value> = list.iter().map(namespace_json).collect();
    Ok(HttpResponse::Ok().json(json!({"namespaces": list, "totalCount": total})))
}

async fn get_namespace(path: web::Path<String>, state: web::Data<AppState>) -> Res {
    let ns = path.into_inner();
    match state.store.namespace(&ns).await? {
        Some(n) if n.deleted_at.is_none() => Ok(HttpResponse::Ok().json(namespace_json(&n))),
        _ => Err(ApiError::NotFound(format!("namespace '{ns}' not found"))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceBody {
    owner_name: Option<String>,
    description: Option<String>,
}

async fn put_namespace(
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Res {
    let ns = path.into_inner();
    name_fits("namespace", &ns)?;
    let (owner, description) = super::body::optional::<NamespaceBody>(&body)?
        .map(|b| (b.owner_name, b.description))
        .unwrap_or_default();
    let n = state
        .store
        .put_namespace(&ns, owner.as_deref(), description.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(namespace_json(&n)))
}

async fn delete_namespace(path: web::Path<String>, state: web::Data<AppState>) -> Res {
    let ns = path.into_inner();
    if !state.store.delete_namespace(&ns).await? {
        return Err(ApiError::NotFound(format!("namespace '{ns}' not found")));
    }
    let n = state
        .store
        .namespace(&ns)
        .await?
        .expect("deleted, not removed");
    Ok(HttpResponse::Ok().json(namespace_json(&n)))
}

async fn list_sources(q: web::Query<Paging>, state: web::Data<AppState>) -> Res {
    let (limit, offset) = page(q.limit, q.offset)?;
    let (list, total) = state.store.sources(limit, offset).await?;
    let list: Vec<Value> = list.iter().map(source_json).collect();
    Ok(HttpResponse::Ok().json(json!({"sources": list, "totalCount": total})))
}

async fn get_source(path: web::Path<String>, state: web::Data<AppState>) -> Res {
    let name = path.into_inner();
    let s = state
        .store
        .source(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("source '{name}' not found")))?;
    Ok(HttpResponse::Ok().json(source_json(&s)))
}

async fn find_dataset(state: &AppState, ns: &str, name: &str) -> Result<Dataset, ApiError> {
    Ok(crate::repro::find_dataset(state.store.as_ref(), ns, name).await?)
}

async fn dataset_answer(state: &AppState, d: &Dataset) -> Res {
    let tags = state
        .store
        .dataset_tags(std::slice::from_ref(&d.id))
        .await?;
    Ok(HttpResponse::Ok().json(shapes::DatasetShape::of(d, tags.get(&d.id))))
}

async fn list_datasets(
    path: web::Path<String>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> Res {
    let ns = path.into_inner();
    let (limit, offset) = page(q.limit, q.offset)?;
    require_namespace(&state, &ns).await?;
    let (list, total) = state.store.datasets(&ns, limit, offset).await?;
    let ids: Vec<String> = list.iter().map(|d| d.id.clone()).collect();
    let tags = state.store.dataset_tags(&ids).await?;
    let items: Vec<shapes::DatasetShape> = list
        .iter()
        .map(|d| shapes::DatasetShape::of(d, tags.get(&d.id)))
        .collect();
    Ok(HttpResponse::Ok().json(shapes::Listing {
        key: "datasets",
        items: &items,
        total,
    }))
}

async fn get_dataset(path: web::Path<(String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name) = path.into_inner();
    dataset_answer(&state, &find_dataset(&state, &ns, &name).await?).await
}

async fn delete_dataset(path: web::Path<(String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name) = path.into_inner();
    let d = find_dataset(&state, &ns, &name).await?;
    state
        .writer
        .delete(Deletion::Dataset {
            id: &d.id,
            namespace: &ns,
            name: &name,
        })
        .await?;
    let d = state
        .store
        .dataset(&ns, &name)
        .await?
        .expect("soft-deleted, still there");
    dataset_answer(&state, &d).await
}

async fn list_dataset_versions(
    path: web::Path<(String, String)>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name) = path.into_inner();
    let (limit, offset) = page(q.limit, q.offset)?;
    let d = find_dataset(&state, &ns, &name).await?;
    let all = Versions::of(state.store.as_ref(), d).await?;
    let list: Vec<Value> = all
        .versions
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|v| version_json(&all.dataset, v, None, &all.tags_of(&v.id)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"versions": list, "totalCount": all.versions.len()})))
}

async fn get_dataset_version(
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name, version) = path.into_inner();
    let d = find_dataset(&state, &ns, &name).await?;
    let all = Versions::of(state.store.as_ref(), d).await?;
    let v = all.get(&version)?;
    let run = match v
        .created_by_run
        .as_deref()
        .and_then(|r| Uuid::parse_str(r).ok())
    {
        Some(r) => state.store.run(r).await?,
        None => None,
    };
    Ok(HttpResponse::Ok().json(version_json(
        &all.dataset,
        v,
        run.as_ref(),
        &all.tags_of(&v.id),
    )))
}

async fn set_dataset_tag(
    state: &AppState,
    ns: &str,
    name: &str,
    field: Option<&str>,
    tag: &str,
    on: bool,
) -> Res {
    name_fits("tag", tag)?;
    let d = find_dataset(state, ns, name).await?;
    if let Some(field) = field {
        let exists = d
            .facets
            .get("schema")
            .and_then(|s| s.get("fields"))
            .and_then(Value::as_array)
            .is_some_and(|f| {
                f.iter()
                    .any(|f| f.get("name").and_then(Value::as_str) == Some(field))
            });
        if !exists {
            return Err(ApiError::NotFound(format!(
                "field '{field}' not found in dataset '{name}'"
            )));
        }
        let change = GraphChange::dataset(&d.namespace, &d.name);
        set_tag(state, TagTarget::Field(&d.id, field), change, tag, on).await?;
    } else {
        let change = GraphChange::dataset(&d.namespace, &d.name);
        set_tag(state, TagTarget::Dataset(&d.id), change, tag, on).await?;
    }
    dataset_answer(state, &d).await
}

/// Puts a tag on a dataset, field or job (or takes it off). Lineage answers carry tags: the
/// node's rendered data is forgotten, as after any change.
async fn set_tag(
    state: &AppState,
    target: TagTarget<'_>,
    node: GraphChange,
    tag: &str,
    on: bool,
) -> Result<(), ApiError> {
    state.store.set_tag(target, tag, on).await?;
    state.lineage.update(node).await;
    Ok(())
}

async fn tag_dataset(path: web::Path<(String, String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name, tag) = path.into_inner();
    set_dataset_tag(&state, &ns, &name, None, &tag, true).await
}

async fn untag_dataset(
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name, tag) = path.into_inner();
    set_dataset_tag(&state, &ns, &name, None, &tag, false).await
}

async fn tag_field(
    path: web::Path<(String, String, String, String)>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name, field, tag) = path.into_inner();
    set_dataset_tag(&state, &ns, &name, Some(&field), &tag, true).await
}

async fn untag_field(
    path: web::Path<(String, String, String, String)>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name, field, tag) = path.into_inner();
    set_dataset_tag(&state, &ns, &name, Some(&field), &tag, false).await
}

async fn list_tags(state: web::Data<AppState>) -> Res {
    let tags = state.store.tags().await?;
    Ok(HttpResponse::Ok().json(json!({"tags": tags, "totalCount": tags.len()})))
}

/// A name from the URL that is about to be stored must fit the store (see `ingest::limits`).
fn name_fits(what: &str, value: &str) -> Result<(), ApiError> {
    crate::ingest::limits::check_name(what, value).map_err(|p| ApiError::BadRequest(vec![p]))
}

#[derive(Deserialize)]
pub struct TagBody {
    description: Option<String>,
}

async fn put_tag(path: web::Path<String>, body: web::Bytes, state: web::Data<AppState>) -> Res {
    let name = path.into_inner();
    name_fits("tag", &name)?;
    let description = super::body::optional::<TagBody>(&body)?.and_then(|b| b.description);
    Ok(HttpResponse::Ok().json(state.store.put_tag(&name, description.as_deref()).await?))
}

async fn find_job(state: &AppState, ns: &str, name: &str) -> Result<Job, ApiError> {
    match state.store.job(ns, name).await? {
        Some(j) if j.deleted_at.is_none() => Ok(j),
        _ => Err(ApiError::NotFound(format!(
            "job '{name}' not found in namespace '{ns}'"
        ))),
    }
}

async fn job_answer(state: &AppState, job: Job) -> Res {
    let summary = state.store.job_summary(job).await?;
    Ok(HttpResponse::Ok().json(shapes::JobShape::of(&summary, None)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobsQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    last_run_states: Option<String>,
}

fn run_states(q: &JobsQuery) -> Result<Vec<String>, ApiError> {
    let Some(s) = &q.last_run_states else {
        return Ok(Vec::new());
    };
    s.split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .map(|s| match s.as_str() {
            "NEW" | "RUNNING" | "COMPLETED" | "FAILED" | "ABORTED" => Ok(s),
            other => Err(ApiError::bad(
                "/lastRunStates",
                format!("'{other}' is not NEW, RUNNING, COMPLETED, FAILED or ABORTED"),
            )),
        })
        .collect()
}

async fn jobs_answer(state: &AppState, ns: Option<&str>, q: &JobsQuery) -> Res {
    let (limit, offset) = page(q.limit, q.offset)?;
    let states = run_states(q)?;
    let (list, total) = state.store.jobs(ns, &states, limit, offset).await?;
    let items: Vec<shapes::JobShape> = list.iter().map(|s| shapes::JobShape::of(s, None)).collect();
    Ok(HttpResponse::Ok().json(shapes::Listing {
        key: "jobs",
        items: &items,
        total,
    }))
}

async fn list_jobs(
    path: web::Path<String>,
    q: web::Query<JobsQuery>,
    state: web::Data<AppState>,
) -> Res {
    let ns = path.into_inner();
    require_namespace(&state, &ns).await?;
    jobs_answer(&state, Some(&ns), &q).await
}

async fn list_all_jobs(q: web::Query<JobsQuery>, state: web::Data<AppState>) -> Res {
    jobs_answer(&state, None, &q).await
}

async fn get_job(path: web::Path<(String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name) = path.into_inner();
    job_answer(&state, find_job(&state, &ns, &name).await?).await
}

async fn delete_job(path: web::Path<(String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name) = path.into_inner();
    let job = find_job(&state, &ns, &name).await?;
    state
        .writer
        .delete(Deletion::Job {
            id: &job.id,
            namespace: &ns,
            name: &name,
        })
        .await?;
    let job = state
        .store
        .job(&ns, &name)
        .await?
        .expect("soft-deleted, still there");
    job_answer(&state, job).await
}

async fn job_versions_json(state: &AppState, job: &Job) -> Result<Vec<Value>, ApiError> {
    let versions = state.store.job_versions(&job.id).await?;
    let ids: Vec<String> = versions
        .iter()
        .flat_map(|v| v.inputs.iter().chain(&v.outputs))
        .cloned()
        .collect();
    let names = state.store.dataset_names(&ids).await?;
    let named = |ids: &[String]| -> Vec<Value> {
        ids.iter()
            .filter_map(|id| names.get(id))
            .map(|(ns, n)| json!({"namespace": ns, "name": n}))
            .collect()
    };
    Ok(versions
        .iter()
        .rev()
        .map(|v| {
            json!({
                "id": {"namespace": job.namespace, "name": job.name, "version": v.id},
                "name": job.name,
                "namespace": job.namespace,
                "version": v.id,
                "createdAt": iso(v.valid_from),
                "validFrom": iso(v.valid_from),
                "validTo": v.valid_to.map(iso),
                "location": v.location.as_ref().and_then(|l| l.get("url")),
                "sourceCodeLocation": v.location,
                "sql": v.sql,
                "inputs": named(&v.inputs),
                "outputs": named(&v.outputs),
                "definedByJobEvent": v.defined_by_event,
            })
        })
        .collect())
}

async fn list_job_versions(
    path: web::Path<(String, String)>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name) = path.into_inner();
    let (limit, offset) = page(q.limit, q.offset)?;
    let job = find_job(&state, &ns, &name).await?;
    let all = job_versions_json(&state, &job).await?;
    let total = all.len();
    let list: Vec<Value> = all
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(HttpResponse::Ok().json(json!({"versions": list, "totalCount": total})))
}

async fn get_job_version(
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name, version) = path.into_inner();
    let job = find_job(&state, &ns, &name).await?;
    job_versions_json(&state, &job)
        .await?
        .into_iter()
        .find(|v| v["version"] == version.as_str())
        .map(|v| HttpResponse::Ok().json(v))
        .ok_or_else(|| ApiError::NotFound(format!("version '{version}' of job '{name}' not found")))
}

async fn list_job_runs(
    path: web::Path<(String, String)>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name) = path.into_inner();
    let (limit, offset) = page(q.limit, q.offset)?;
    let job = find_job(&state, &ns, &name).await?;
    let (runs, total) = state.store.job_runs(&job.id, limit, offset).await?;
    let items: Vec<shapes::RunShape> = runs.iter().map(shapes::RunShape::of).collect();
    Ok(HttpResponse::Ok().json(shapes::Listing {
        key: "runs",
        items: &items,
        total,
    }))
}

async fn tag_job_as(state: &AppState, ns: &str, name: &str, tag: &str, on: bool) -> Res {
    name_fits("tag", tag)?;
    let job = find_job(state, ns, name).await?;
    let change = GraphChange::job(&job.namespace, &job.name);
    set_tag(state, TagTarget::Job(&job.id), change, tag, on).await?;
    job_answer(state, job).await
}

async fn tag_job(path: web::Path<(String, String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name, tag) = path.into_inner();
    tag_job_as(&state, &ns, &name, &tag, true).await
}

async fn untag_job(path: web::Path<(String, String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name, tag) = path.into_inner();
    tag_job_as(&state, &ns, &name, &tag, false).await
}

fn run_uuid(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id)
        .map_err(|_| ApiError::bad("/id", format!("'{id}' is not a run id (a UUID)")))
}

async fn get_run(path: web::Path<String>, state: web::Data<AppState>) -> Res {
    let id = path.into_inner();
    let run = state
        .store
        .run(run_uuid(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run '{id}' not found")))?;
    Ok(HttpResponse::Ok().json(shapes::RunShape::of(&run)))
}

#[derive(Deserialize)]
pub struct FacetsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn get_run_facets(
    path: web::Path<String>,
    q: web::Query<FacetsQuery>,
    state: web::Data<AppState>,
) -> Res {
    let id = path.into_inner();
    let run = state
        .store
        .run(run_uuid(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run '{id}' not found")))?;
    let facets = match q.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("run") => run.facets,
        Some("job") => run.job_facets,
        Some(other) => {
            return Err(ApiError::bad(
                "/type",
                format!("'{other}' is not run or job"),
            ))
        }
    };
    Ok(HttpResponse::Ok().json(json!({"runId": run.uuid, "facets": facets})))
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    filter: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    namespace: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

fn date_param(name: &str, v: &Option<String>, end_of_day: bool) -> Result<Option<i64>, ApiError> {
    let Some(s) = v else { return Ok(None) };
    let text = if s.len() == 10 {
        format!(
            "{s}T{}",
            if end_of_day {
                "23:59:59.999999"
            } else {
                "00:00:00"
            }
        )
    } else {
        s.clone()
    };
    parse_event_time(&text)
        .map(|t| Some(to_micros(t)))
        .ok_or_else(|| {
            ApiError::bad(
                &format!("/{name}"),
                format!("'{s}' is not a date (YYYY-MM-DD) or date-time"),
            )
        })
}

async fn search(q: web::Query<SearchParams>, state: web::Data<AppState>) -> Res {
    let text =
        q.q.clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::bad("/q", "a search query is required"))?;
    let (datasets, jobs) = match q.filter.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None => (true, true),
        Some("DATASET") => (true, false),
        Some("JOB") => (false, true),
        Some(other) => {
            return Err(ApiError::bad(
                "/filter",
                format!("'{other}' is not DATASET or JOB"),
            ))
        }
    };
    let sort_by_name = match q.sort.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("NAME") => true,
        Some("UPDATE_AT") | Some("UPDATED_AT") => false,
        Some(other) => {
            return Err(ApiError::bad(
                "/sort",
                format!("'{other}' is not NAME or UPDATED_AT"),
            ))
        }
    };
    let (limit, _) = page(Some(q.limit.unwrap_or(10)), None)?;
    let query = SearchQuery {
        q: text.trim().to_string(),
        datasets,
        jobs,
        sort_by_name,
        namespace: q.namespace.clone(),
        before: date_param("before", &q.before, true)?,
        after: date_param("after", &q.after, false)?,
        limit,
    };
    let (hits, total) = state.store.search(&query).await?;
    let results: Vec<Value> = hits
        .iter()
        .map(|h| {
            let node = if h.kind == "DATASET" {
                crate::model::NodeId::dataset(&h.namespace, &h.name)
            } else {
                crate::model::NodeId::job(&h.namespace, &h.name)
            };
            json!({"type": h.kind, "name": h.name, "namespace": h.namespace, "updatedAt": iso(h.updated_at), "nodeId": node})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"totalCount": total, "results": results})))
}
