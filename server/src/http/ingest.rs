//! `POST /api/v1/lineage` (one event, 201 like Marquez) and `POST /api/v1/lineage/batch` (an
//! array; the OpenLineage batch answer shape). A 2xx means the events are committed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{body, ApiError, AppState};
use crate::ingest::{prepare_event, Problem};
use crate::model::time::now_micros;

#[tracing::instrument(skip_all)]
pub async fn post_event(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let bytes = body::read(&req, payload, state.max_body_bytes).await?;
    let value: Value = body::parse(&bytes)?;
    let prepared = prepare_event(&state.validator, value, bytes, now_micros())?;
    let warnings = prepared.warnings.clone();
    state.writer.write(vec![prepared]).await?;
    let mut answer = HttpResponse::Created();
    Ok(if warnings.is_empty() {
        answer.finish()
    } else {
        answer.json(json!({ "warnings": warnings }))
    })
}

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
    let items: Vec<&RawValue> = match body::parse::<Value>(&bytes) {
        Ok(Value::Array(_)) => body::parse(&bytes)?,
        Ok(_) => return Err(ApiError::bad("", "a batch must be a JSON array of events")),
        Err(e) => return Err(e),
    };
    let received_at = now_micros();
    let mut good = Vec::new();
    let mut failed = Vec::new();
    let mut warned = Vec::new();
    for (index, raw) in items.iter().enumerate() {
        let value: Value =
            serde_json::from_str(raw.get()).expect("an array element parsed once already parses");
        match prepare_event(
            &state.validator,
            value,
            raw.get().as_bytes().to_vec(),
            received_at,
        ) {
            Ok(p) => {
                if !p.warnings.is_empty() {
                    warned.push(Warned {
                        index,
                        warnings: p.warnings.clone(),
                    });
                }
                good.push(p);
            }
            Err(r) => failed.push(Failed {
                index,
                reason: r.summary(),
                errors: r
                    .0
                    .into_iter()
                    .map(|p| Problem::new(format!("/{index}{}", p.path), p.detail))
                    .collect(),
            }),
        }
    }
    let successful = good.len();
    state.writer.write(good).await?;
    let (status, code) = match (successful, failed.len()) {
        (_, 0) => ("SUCCESS", StatusCode::OK),
        (0, _) => ("FAILURE", StatusCode::BAD_REQUEST),
        _ => ("PARTIAL_SUCCESS", StatusCode::MULTI_STATUS),
    };
    let answer = BatchAnswer {
        status,
        summary: Summary {
            received: items.len(),
            successful,
            failed: failed.len(),
        },
        failed_events: failed,
        warnings: warned,
    };
    Ok(HttpResponse::build(code).json(answer))
}
