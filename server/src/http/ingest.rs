//! `POST /api/v1/lineage` (one event, 201 like Marquez) and `POST /api/v1/lineage/batch` (an
//! array; the OpenLineage batch answer shape). A 2xx means the events are committed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{body, ApiError, AppState};
use crate::ingest::{prepare_event, Problem, Rejection};
use crate::model::time::now_micros;

#[tracing::instrument(skip_all)]
pub async fn post_event(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload, state.max_body_bytes).await?;
    let value: Value = body::parse(&bytes)?;
    let prepared = prepare_event(&state.validator, value, bytes, now_micros())
        .inspect_err(|_| crate::metrics::metrics().count_events("rejected", 1))?;
    let warnings = prepared.warnings.clone();
    state.writer.write(vec![prepared]).await?;
    let mut answer = HttpResponse::Created();
    Ok(if warnings.is_empty() {
        answer.finish()
    } else {
        answer.json(json!({ "warnings": warnings }))
    })
}

/// The most events one batch request may hold.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// The most failed (and warned) events a batch answer lists; `summary.failed` counts them all.
const MAX_LISTED: usize = 100;
/// The most problems listed for one failed event.
const MAX_PROBLEMS_PER_EVENT: usize = 20;

#[derive(Serialize)]
struct Summary {
    received: usize,
    successful: usize,
    failed: usize,
}

#[derive(Serialize)]
struct Failed {
    index: usize,
    reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Problem>,
}

#[derive(Serialize)]
struct Warned {
    index: usize,
    warnings: Vec<Problem>,
}

#[derive(Serialize)]
struct BatchAnswer {
    status: &'static str,
    summary: Summary,
    failed_events: Vec<Failed>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warned>,
}

#[tracing::instrument(skip_all)]
pub async fn post_batch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload, state.max_body_bytes).await?;
    let items: Vec<&RawValue> = match serde_json::from_str(body::text(&bytes)?) {
        Ok(items) => items,
        Err(_) => {
            // Say what is wrong: bad JSON, or JSON that is not an array (checked without
            // building the document in memory).
            body::parse::<serde::de::IgnoredAny>(&bytes)?;
            return Err(ApiError::bad("", "a batch must be a JSON array of events"));
        }
    };
    if items.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::bad(
            "",
            format!(
                "the batch holds {} events; the limit is {MAX_BATCH_EVENTS} per request",
                items.len()
            ),
        ));
    }
    let received_at = now_micros();
    let mut good = Vec::new();
    let mut failed = Vec::new();
    let mut warned = Vec::new();
    let mut failures_unlisted = 0;
    for (index, raw) in items.iter().enumerate() {
        // An element can be valid JSON inside the array and still be refused on its own (it
        // nests past the parser's depth limit): that is this event's failure, not the batch's.
        let prepared = serde_json::from_str::<Value>(raw.get())
            .map_err(|e| {
                Rejection(vec![Problem::new(
                    "",
                    format!("the event is not JSON the server can read: {e}"),
                )])
            })
            .and_then(|value| {
                prepare_event(
                    &state.validator,
                    value,
                    raw.get().as_bytes().to_vec(),
                    received_at,
                )
            });
        match prepared {
            Ok(p) => {
                if !p.warnings.is_empty() && warned.len() < MAX_LISTED {
                    warned.push(Warned {
                        index,
                        warnings: p.warnings.clone(),
                    });
                }
                good.push(p);
            }
            Err(_) if failed.len() >= MAX_LISTED => failures_unlisted += 1,
            Err(mut r) => {
                r.0.truncate(MAX_PROBLEMS_PER_EVENT);
                failed.push(Failed {
                    index,
                    reason: r.summary(),
                    errors: r
                        .0
                        .into_iter()
                        .map(|p| Problem::new(format!("/{index}{}", p.path), p.detail))
                        .collect(),
                })
            }
        }
    }
    let successful = good.len();
    state.writer.write(good).await?;
    let failures = failed.len() + failures_unlisted;
    crate::metrics::metrics().count_events("rejected", failures);
    let (status, code) = match (successful, failures) {
        (_, 0) => ("SUCCESS", StatusCode::OK),
        (0, _) => ("FAILURE", StatusCode::BAD_REQUEST),
        _ => ("PARTIAL_SUCCESS", StatusCode::MULTI_STATUS),
    };
    let answer = BatchAnswer {
        status,
        summary: Summary {
            received: items.len(),
            successful,
            failed: failures,
        },
        failed_events: failed,
        warnings: warned,
    };
    Ok(HttpResponse::build(code).json(answer))
}
