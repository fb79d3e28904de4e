//! `POST /api/v1/integrations/lakefs`: lakeFS action webhooks.
//!
//! - `post-commit`, `post-merge`: the commit becomes a new version of each dataset the action
//!   names with `?path=` (repeatable), through the same write path as OpenLineage events;
//! - `post-create-tag`: the tag becomes a version tag of each of those datasets' version for the
//!   commit (recorded first when Tributary has not seen the commit);
//! - `pre-merge`: answers `412` with the reasons when an expectation the action names with
//!   `?expect=NAMESPACE:NAME[@TAG|#VERSION]` (repeatable) is not met, so lakeFS blocks the merge;
//!   with `&storage=true` each expected snapshot is also asked of its storage.
//!
//! Other hooks are answered `200` and ignored.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{body, ApiError, AppState};
use crate::error::Cause;
use crate::ingest::lakefs::{paths, Hook};
use crate::ingest::prepare_event;
use crate::model::time::{iso, now_micros};
use crate::repro::{self, parse_expectation, Expectation, ReproError, Versions};
use crate::snapshots::{self, Probe, Sources, Target};

/// The query of the webhook's URL (lakeFS sends an action's `query_params` there).
#[derive(Debug, Default)]
struct Query {
    paths: Vec<String>,
    expect: Vec<String>,
    storage: bool,
}

impl Query {
    fn parse(query: &str) -> Result<Query, ApiError> {
        let mut q = Query::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "path" => q.paths.push(value.into_owned()),
                "expect" => q.expect.push(value.into_owned()),
                "storage" => {
                    q.storage = match value.as_ref() {
                        "true" | "1" | "" => true,
                        "false" | "0" => false,
                        other => {
                            return Err(ApiError::bad(
                                "storage",
                                format!("'{other}' is not true or false"),
                            ))
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

pub async fn webhook(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = Query::parse(req.query_string())?;
    let bytes = body::read(&req, payload, state.max_body_bytes).await?;
    let value: Value = body::parse(&bytes)?;
    let hook: Hook = serde_json::from_value(value).map_err(|e| {
        ApiError::bad(
            "",
            format!("not a lakeFS webhook request (event_type, repository_id, …): {e}"),
        )
    })?;
    match hook.event_type.as_str() {
        "post-commit" | "post-merge" => {
            let recorded = record(&state, &hook, &query).await?;
            Ok(HttpResponse::Ok().json(recorded))
        }
        "post-create-tag" => tag(&state, &hook, &query).await,
        "pre-merge" => gate(&state, &query).await,
        other => Ok(HttpResponse::Ok().json(json!({
            "ignored": format!("Tributary records post-commit, post-merge and post-create-tag and gates pre-merge; '{other}' changes nothing")
        }))),
    }
}

/// The datasets the action names; refused when it names none.
fn named(query: &Query) -> Result<Vec<String>, ApiError> {
    let named = paths(&query.paths);
    if named.is_empty() {
        return Err(ApiError::bad(
            "path",
            "name the datasets: add ?path=<repository path> (repeatable) to the webhook's url or query_params",
        ));
    }
    Ok(named)
}

/// Records the hook's commit as a version of every path the action names.
async fn record(state: &AppState, hook: &Hook, query: &Query) -> Result<Value, ApiError> {
    hook.check().map_err(|m| ApiError::bad("", m))?;
    let paths = named(query)?;
    let now = now_micros();
    let event = hook.event(&paths, &iso(now));
    let raw = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(Cause::new(e)))?;
    let prepared = prepare_event(&state.validator, event, raw, now)?;
    state.writer.write(vec![prepared]).await?;
    let namespace = hook.namespace();
    Ok(json!({
        "version": hook.commit(),
        "datasets": paths.iter().map(|p| crate::model::NodeId::dataset(&namespace, p)).collect::<Vec<_>>(),
    }))
}

/// Tags the commit's version of every path (recording the commit first when it is new here).
async fn tag(state: &AppState, hook: &Hook, query: &Query) -> Result<HttpResponse, ApiError> {
    hook.check().map_err(|m| ApiError::bad("", m))?;
    let Some(tag) = hook.tag_id.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::bad(
            "tag_id",
            "a post-create-tag hook without tag_id",
        ));
    };
    let commit = hook.commit().unwrap_or_default();
    let namespace = hook.namespace();
    let store = state.store.as_ref();
    let paths = named(query)?;
    let mut all_known = true;
    for p in &paths {
        let known = match repro::find_dataset(store, &namespace, p).await {
            Ok(d) => Versions::of(store, d).await?.resolve(commit).is_some(),
            Err(ReproError::NotFound(_)) => false,
            Err(e) => return Err(e.into()),
        };
        all_known &= known;
    }
    if !all_known {
        record(state, hook, query).await?;
    }
    let mut tagged = Vec::new();
    for p in &paths {
        let (versions, id) = repro::tag_version(store, &namespace, p, commit, tag, true).await?;
        tagged.push(json!({
            "dataset": crate::model::NodeId::dataset(&namespace, p),
            "version": id,
            "tags": versions.tags_of(&id),
        }));
    }
    Ok(HttpResponse::Ok().json(json!({"tag": tag, "commit": commit, "tagged": tagged})))
}

/// Whether one expectation is met: what was found, or why not.
async fn expected(
    state: &AppState,
    e: &Expectation,
    sources: Option<&Sources>,
) -> Result<Result<String, String>, ApiError> {
    let store = state.store.as_ref();
    let dataset = match repro::find_dataset(store, &e.namespace, &e.name).await {
        Ok(d) => d,
        Err(ReproError::NotFound(m)) => return Ok(Err(m)),
        Err(other) => return Err(other.into()),
    };
    let versions = Versions::of(store, dataset).await?;
    let reference = e.tag.as_deref().or(e.version.as_deref());
    let version = match reference {
        Some(r) => versions.resolve(r),
        None => versions
            .dataset
            .current_version
            .as_deref()
            .and_then(|id| versions.resolve(id)),
    };
    let Some(version) = version else {
        return Ok(Err(match (&e.tag, &e.version) {
            (Some(t), _) => format!("no version is tagged '{t}'"),
            (None, Some(v)) => format!("no version '{v}'"),
            (None, None) => "the dataset has no version".to_string(),
        }));
    };
    let found = format!("version {}", version.id);
    let Some(sources) = sources else {
        return Ok(Ok(found));
    };
    let target = Target::of(
        &e.namespace,
        &e.name,
        version.producer_version.as_deref(),
        &[&version.facets, &version.io_facets],
    );
    Ok(match snapshots::probe(sources, &target).await {
        Probe::Present(what) => Ok(format!("{found}; {what}")),
        Probe::Gone(why) => Err(format!("{found} is gone at its source: {why}")),
        Probe::Unknown(why) => Err(format!("{found} could not be checked at its source: {why}")),
    })
}

/// The pre-merge gate.
async fn gate(state: &AppState, query: &Query) -> Result<HttpResponse, ApiError> {
    if query.expect.is_empty() {
        return Err(ApiError::bad(
            "expect",
            "name what the merge needs: add ?expect=NAMESPACE:NAME[@TAG|#VERSION] (repeatable) to the webhook's url or query_params",
        ));
    }
    let mut wanted = Vec::new();
    for e in &query.expect {
        wanted.push((
            e.as_str(),
            parse_expectation(e).map_err(|m| ApiError::bad("expect", m))?,
        ));
    }
    let sources = query.storage.then(snapshots::for_server);
    let (mut met, mut missing) = (Vec::new(), Vec::new());
    for (text, e) in &wanted {
        match expected(state, e, sources).await? {
            Ok(found) => met.push(json!({"expect": text, "found": found})),
            Err(reason) => missing.push(json!({"expect": text, "reason": reason})),
        }
    }
    if missing.is_empty() {
        return Ok(HttpResponse::Ok().json(json!({"met": met})));
    }
    let reasons: Vec<String> = missing
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["expect"].as_str().unwrap_or_default(),
                m["reason"].as_str().unwrap_or_default()
            )
        })
        .collect();
    Ok(HttpResponse::build(StatusCode::PRECONDITION_FAILED).json(json!({
        "code": 412,
        "message": format!("the merge is blocked: {}", reasons.join("; ")),
        "errors": missing.iter().map(|m| json!({"path": m["expect"], "detail": m["reason"]})).collect::<Vec<_>>(),
        "missing": missing,
        "met": met,
    })))
}
