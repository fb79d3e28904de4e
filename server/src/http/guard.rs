//! What wraps every request: refusals made before routing, the same for every endpoint (a URL
//! whose path or query holds an encoded NUL, `%00`, which no name in the store can contain; a
//! request without the key or scope it needs, or a write from another site: `http::access`), and
//! a panic in a handler turned into a logged `500` instead of a dropped connection.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use futures_util::FutureExt;

use super::{access, ApiError, AppState};
use crate::error::Cause;
use crate::model::time::now_micros;

/// How long reads are answered `503` at once after one waited the whole acquire timeout for a
/// database connection (then the next read tries the database again).
pub const BREAKER_OPEN: Duration = Duration::from_millis(1500);

/// The longest a REST read waits for its turn before it is answered `503` (busy).
pub const READ_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a read found the database away moments ago (the breaker is open).
fn database_away(state: &web::Data<AppState>) -> bool {
    now_micros() < state.db_away_until.load(Ordering::Relaxed)
}

/// The answer while the breaker is open.
fn away() -> actix_web::Error {
    ApiError::Unavailable(Cause::msg("a read found the database away moments ago")).into()
}

/// Opens the breaker when a read waited the whole acquire timeout for a connection; closes it
/// when a request that needed the database succeeded (an API answer, a ready `/readyz`).
fn note_database(state: &AppState, answer: &ServiceResponse<impl MessageBody>, is_read: bool) {
    let timed_out = answer
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .is_some_and(ApiError::waited_for_a_connection);
    let path = answer.request().path();
    let touches_database = path.starts_with("/api/") || path == "/readyz";
    if is_read && timed_out {
        let until = now_micros() + BREAKER_OPEN.as_micros() as i64;
        state.db_away_until.store(until, Ordering::Relaxed);
    } else if answer.status().is_success() && touches_database {
        state.db_away_until.store(0, Ordering::Relaxed);
    }
}

/// Counts an answer by route pattern and status, and times it.
fn observe(answer: &ServiceResponse<impl MessageBody>, started: Instant) {
    let route = answer.request().match_pattern();
    let route = route.as_deref().unwrap_or("(web UI)");
    let m = crate::metrics::metrics();
    m.http_requests
        .with_label_values(&[route, answer.status().as_str()])
        .inc();
    m.http_duration
        .with_label_values(&[route])
        .observe(started.elapsed().as_secs_f64());
}

/// Answers `400` for URLs that carry a NUL, `500` (logged) when a handler panics; passes
/// everything else on.
pub async fn shield(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let uri = req.uri();
    let carries_nul = |s: &str| s.contains("%00");
    if carries_nul(uri.path()) || uri.query().is_some_and(carries_nul) {
        let answer = ApiError::bad(
            "",
            "the URL contains an encoded NUL character (%00), which no name or parameter may hold",
        )
        .error_response();
        return Ok(req.into_response(answer));
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(state) = &state {
        if let Err(refusal) = access::admit(&req, state).await {
            let answer = if req.path() == access::GRAPHQL_PATH {
                super::graphql::refuse(
                    refusal.status_code(),
                    refusal.graphql_code(),
                    &refusal.to_string(),
                )
            } else {
                refusal.error_response()
            };
            let answer = req.into_response(answer);
            observe(&answer, Instant::now());
            return Ok(answer.map_into_boxed_body());
        }
    }
    let is_read = req.method() == Method::GET && req.path().starts_with("/api/");
    if is_read && state.as_ref().is_some_and(database_away) {
        return Err(away());
    }
    // REST reads take a permit for as long as they run (waiting their turn, but not forever).
    let _permit = match state.as_ref() {
        Some(state) if is_read => {
            let permits = state.read_permits.clone();
            match tokio::time::timeout(READ_QUEUE_TIMEOUT, permits.acquire_owned()).await {
                // The database may have been found away while this read waited its turn.
                Ok(Ok(_)) if database_away(state) => return Err(away()),
                Ok(Ok(permit)) => Some(permit),
                Ok(Err(_)) | Err(_) => {
                    return Err(ApiError::Busy(format!(
                        "too many reads are waiting for their turn (more than {} s)",
                        READ_QUEUE_TIMEOUT.as_secs()
                    ))
                    .into())
                }
            }
        }
        _ => None,
    };
    let started = Instant::now();
    match std::panic::AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .await
    {
        Ok(answer) => {
            let answer = answer?;
            if let Some(state) = &state {
                note_database(state, &answer, is_read);
                access::audit(state, &answer).await;
            }
            observe(&answer, started);
            Ok(answer.map_into_boxed_body())
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            // An error from here is answered with its own response (a 500 in the error shape).
            Err(ApiError::Internal(Cause::msg(format!("handler panicked: {what}"))).into())
        }
    }
}
