//! Refusals made before routing, the same for every endpoint: a URL whose path or query holds
//! an encoded NUL (`%00`), which no name in the store can contain.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use super::ApiError;

/// Answers `400` for URLs that carry a NUL; passes everything else on.
pub async fn refuse_nul(
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
    Ok(next.call(req).await?.map_into_boxed_body())
}
