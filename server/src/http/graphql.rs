//! `POST /api/v1/graphql` and GraphiQL at `/graphiql`. A request is bounded before the engine
//! sees it (`graphql::guard`): its body size, nesting, fields and graph walks, and its time.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::http::GraphiQLSource;
use async_graphql_actix_web::GraphQLResponse;
use serde_json::json;

use super::{body, ApiError};
use crate::graphql::{guard, LineageSchema};

/// The longest a GraphQL request may run.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A GraphQL error answer (`{"errors": [{"message", "extensions": {"code"}}]}`) with a status.
fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    super::error::answer(status)
        .json(json!({"errors": [{"message": message, "extensions": {"code": code}}]}))
}

pub async fn execute(
    req: HttpRequest,
    payload: web::Payload,
    schema: web::Data<LineageSchema>,
) -> Result<HttpResponse, ApiError> {
    let bytes = match body::read(&req, payload, guard::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(ApiError::TooLarge(m)) => {
            return Ok(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "REQUEST_TOO_LARGE",
                &m,
            ))
        }
        Err(e) => return Err(e),
    };
    let request: async_graphql::Request = match body::parse(&bytes) {
        Ok(r) => r,
        Err(ApiError::BadRequest(p)) => {
            let message = p
                .first()
                .map(|p| p.detail.as_str())
                .unwrap_or("bad request");
            let message = format!(
                "{message} (a GraphQL request is {{\"query\": \"…\", \"variables\": {{…}}}})"
            );
            return Ok(refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message));
        }
        Err(e) => return Err(e),
    };
    let variables = serde_json::to_value(&request.variables).unwrap_or_default();
    let query_nul = request.query.contains('\0') || request.query.contains("\\u0000");
    if query_nul || !crate::ingest::limits::nul_paths(&variables).is_empty() {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "the query or its variables contain the NUL character (U+0000)",
        ));
    }
    if let Err(guard::Refused(m)) = guard::check_nesting(&request.query) {
        return Ok(refuse(StatusCode::BAD_REQUEST, "QUERY_TOO_COMPLEX", &m));
    }
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        if let Err(guard::Refused(m)) = guard::check_cost(&doc) {
            return Ok(refuse(StatusCode::BAD_REQUEST, "QUERY_TOO_COMPLEX", &m));
        }
    }
    match tokio::time::timeout(TIMEOUT, schema.execute(request)).await {
        Ok(response) => {
            let response = crate::graphql::hide_internal_errors(response);
            Ok(
                actix_web::Responder::respond_to(GraphQLResponse::from(response), &req)
                    .map_into_boxed_body(),
            )
        }
        Err(_) => Ok(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
            &format!(
                "the query ran longer than {} s; ask for less (a smaller depth, fewer fields)",
                TIMEOUT.as_secs()
            ),
        )),
    }
}

pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/api/v1/graphql")
                .title("Tributary GraphiQL")
                .finish(),
        )
}
