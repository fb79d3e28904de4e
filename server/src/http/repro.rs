//! Reproducibility over REST: version tags, version diffs, run manifests and input drift.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::shapes::version_json;
use super::{ApiError, AppState};
use crate::repro::{self, Versions, MAX_MANIFEST_DEPTH};

type Res = Result<HttpResponse, ApiError>;

/// Routes under `/api/v1`; registered before Marquez's so `versions/diff` is not a version.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/namespaces/{ns}/datasets/{name}/versions/diff",
        web::get().to(diff),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/version-tags",
        web::get().to(tag_history),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/versions/{version}/tags/{tag}",
        web::put().to(tag),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/versions/{version}/tags/{tag}",
        web::delete().to(untag),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/versions/{version}/snapshot",
        web::get().to(snapshot),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/versions/{version}/reproduce",
        web::get().to(reproduce_version),
    )
    .route(
        "/namespaces/{ns}/datasets/{name}/reproduce",
        web::get().to(reproduce_current),
    )
    .route("/jobs/runs/{id}/manifest", web::get().to(manifest))
    .route(
        "/jobs/runs/{id}/changed-inputs",
        web::get().to(changed_inputs),
    )
    .route("/runlineage/upstream", web::get().to(upstream));
}

async fn set_tag(state: &AppState, path: (String, String, String, String), on: bool) -> Res {
    let (ns, name, version, tag) = path;
    let store = state.store.as_ref();
    let (all, id) = repro::tag_version(store, &ns, &name, &version, &tag, on).await?;
    let v = all.get(&id)?;
    Ok(HttpResponse::Ok().json(version_json(&all.dataset, v, None, &all.tags_of(&id))))
}

async fn tag(path: web::Path<(String, String, String, String)>, state: web::Data<AppState>) -> Res {
    set_tag(&state, path.into_inner(), true).await
}

async fn untag(
    path: web::Path<(String, String, String, String)>,
    state: web::Data<AppState>,
) -> Res {
    set_tag(&state, path.into_inner(), false).await
}

/// Whether a version's snapshot can still be read where the data lives (as `check --storage`
/// asks): `present`, `gone`, `unchecked` (the storage could not be asked) or `none` (no snapshot
/// id, or a tool other than Delta, Iceberg, DVC and lakeFS).
async fn snapshot(path: web::Path<(String, String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name, version) = path.into_inner();
    let store = state.store.as_ref();
    let versions = Versions::of(store, repro::find_dataset(store, &ns, &name).await?).await?;
    let v = versions.get(&version)?;
    let sources = crate::snapshots::for_server();
    let (state, detail) =
        crate::snapshots::state_of(crate::snapshots::probe_version(sources, &ns, &name, v).await);
    Ok(HttpResponse::Ok().json(json!({
        "version": v.id,
        "producerVersion": v.producer_version,
        "state": state,
        "detail": detail,
    })))
}

async fn tag_history(path: web::Path<(String, String)>, state: web::Data<AppState>) -> Res {
    let (ns, name) = path.into_inner();
    let store = state.store.as_ref();
    let d = repro::find_dataset(store, &ns, &name).await?;
    let tags: Vec<_> = store
        .version_tags(&d.id, true)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "tag": t.tag,
                "version": t.version_id,
                "taggedAt": crate::model::time::iso(t.tagged_at),
                "untaggedAt": t.untagged_at.map(crate::model::time::iso),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"tags": tags})))
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn diff(
    path: web::Path<(String, String)>,
    q: web::Query<DiffQuery>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name) = path.into_inner();
    let (Some(from), Some(to)) = (&q.from, &q.to) else {
        return Err(ApiError::bad(
            "",
            "both 'from' and 'to' are required: version ids, tags or producer versions",
        ));
    };
    let store = state.store.as_ref();
    let versions = Versions::of(store, repro::find_dataset(store, &ns, &name).await?).await?;
    Ok(HttpResponse::Ok().json(repro::version_diff(store, &versions, from, to).await?))
}

#[derive(Deserialize)]
struct ManifestQuery {
    depth: Option<u32>,
    format: Option<String>,
}

async fn manifest(
    path: web::Path<String>,
    q: web::Query<ManifestQuery>,
    state: web::Data<AppState>,
) -> Res {
    let depth = q.depth.unwrap_or(0);
    if depth > MAX_MANIFEST_DEPTH {
        return Err(ApiError::bad(
            "",
            format!("depth is at most {MAX_MANIFEST_DEPTH}"),
        ));
    }
    let m = repro::manifest(state.store.as_ref(), &path.into_inner(), depth).await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(HttpResponse::Ok().json(m)),
        "toml" => Ok(HttpResponse::Ok()
            .content_type("application/toml; charset=utf-8")
            .body(repro::manifest_toml(&m))),
        other => Err(ApiError::bad(
            "",
            format!("format '{other}' is not one of json, toml"),
        )),
    }
}

#[derive(Deserialize)]
struct DepthQuery {
    depth: Option<u32>,
}

/// How deep a reproduction's manifest goes: 1 (the run and the runs that wrote its inputs)
/// unless asked otherwise.
fn reproduce_depth(q: &DepthQuery) -> Result<u32, ApiError> {
    let depth = q.depth.unwrap_or(1);
    if depth > MAX_MANIFEST_DEPTH {
        return Err(ApiError::bad(
            "/depth",
            format!("depth is at most {MAX_MANIFEST_DEPTH}"),
        ));
    }
    Ok(depth)
}

/// `GET …/datasets/{name}/versions/{version}/reproduce`: the run that wrote the version, its
/// manifest, and how to read each input's exact data again.
async fn reproduce_version(
    path: web::Path<(String, String, String)>,
    q: web::Query<DepthQuery>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name, version) = path.into_inner();
    let depth = reproduce_depth(&q)?;
    let r = repro::reproduce(state.store.as_ref(), &ns, &name, Some(&version), depth).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// `GET …/datasets/{name}/reproduce`: the same for the current version.
async fn reproduce_current(
    path: web::Path<(String, String)>,
    q: web::Query<DepthQuery>,
    state: web::Data<AppState>,
) -> Res {
    let (ns, name) = path.into_inner();
    let depth = reproduce_depth(&q)?;
    let r = repro::reproduce(state.store.as_ref(), &ns, &name, None, depth).await?;
    Ok(HttpResponse::Ok().json(r))
}

async fn changed_inputs(path: web::Path<String>, state: web::Data<AppState>) -> Res {
    let changed = repro::changed_inputs(state.store.as_ref(), &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({"changedInputs": changed})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpstreamQuery {
    run_id: Option<String>,
    depth: Option<u32>,
}

/// Marquez's `GET /api/v1/runlineage/upstream?runId=&depth=`: the run and the runs that wrote
/// the dataset versions it read, level by level.
async fn upstream(q: web::Query<UpstreamQuery>, state: web::Data<AppState>) -> Res {
    let Some(run) = &q.run_id else {
        return Err(ApiError::bad("", "runId is required"));
    };
    let depth = q.depth.unwrap_or(20);
    if depth > 100 {
        return Err(ApiError::bad("", "depth is at most 100"));
    }
    let runs = repro::upstream_runs(state.store.as_ref(), run, depth).await?;
    Ok(HttpResponse::Ok().json(json!({"runs": runs})))
}
