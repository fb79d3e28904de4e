//! What wraps every request: refusals made before routing, the same for every endpoint (a URL
//! whose path or query holds an encoded NUL, `%00`, which no name in the store can contain), and
//! a panic in a handler turned into a logged `500` instead of a dropped connection.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use futures_util::FutureExt;

use super::ApiError;

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
    match std::panic::AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .await
    {
        Ok(answer) => Ok(answer?.map_into_boxed_body()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            // An error from here is answered with its own response (a 500 in the error shape).
            Err(ApiError::Internal(format!("handler panicked: {what}")).into())
        }
    }
}
