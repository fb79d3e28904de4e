//! `POST /api/v1/graphql` and GraphiQL at `/graphiql`. A request is bounded before the engine
//! sees it (`graphql::guard`): its body size, nesting, fields and graph walks, and its time.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
};
use async_graphql::Positioned;
use serde_json::json;

use super::{body, ApiError, AppState};
use crate::graphql::{guard, LineageSchema, RawParts};
use crate::model::access::{AuthMode, Caller, Principal, Scope};

/// The longest a GraphQL request may run.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A GraphQL error answer (`{"errors": [{"message", "extensions": {"code"}}]}`) with a status.
pub(super) fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut answer = super::error::answer(status);
    if status == StatusCode::UNAUTHORIZED {
        answer.insert_header((header::WWW_AUTHENTICATE, super::error::BEARER_CHALLENGE));
    }
    answer.json(json!({"errors": [{"message": message, "extensions": {"code": code}}]}))
}

/// Whether the operation the request runs is a mutation (with several operations in the
/// document and no name, whether any is: the engine refuses that request anyway).
fn runs_a_mutation(doc: &ExecutableDocument, name: Option<&str>) -> bool {
    let is_mutation = |op: &Positioned<OperationDefinition>| op.node.ty == OperationType::Mutation;
    match &doc.operations {
        DocumentOperations::Single(op) => is_mutation(op),
        DocumentOperations::Multiple(ops) => match name {
            Some(name) => ops
                .iter()
                .any(|(n, op)| n.as_str() == name && is_mutation(op)),
            None => ops.values().any(is_mutation),
        },
    }
}

/// Refuses a mutation from a caller without the `admin` scope (when keys are on).
fn refuse_mutation(state: &AppState, caller: &Caller) -> Option<HttpResponse> {
    if state.access.mode == AuthMode::Off {
        return None;
    }
    match &caller.principal {
        Principal::Key(k) if k.allows(Scope::Admin) => None,
        Principal::Key(k) => Some(refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &format!(
                "the key '{}' lacks the 'admin' scope a mutation needs",
                k.name
            ),
        )),
        Principal::Anonymous => Some(refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "a mutation needs an API key with the 'admin' scope (send Authorization: Bearer <key>)",
        )),
    }
}

pub async fn execute(
    req: HttpRequest,
    payload: web::Payload,
    schema: web::Data<LineageSchema>,
    state: web::Data<AppState>,
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
    let mut request: async_graphql::Request = match body::parse(&bytes) {
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
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
    // Parsed once: the guard reads the document and the engine runs it.
    let operation = request.operation_name.clone();
    if let Ok(doc) = request.parsed_query() {
        if let Err(guard::Refused(m)) = guard::check_cost(doc) {
            return Ok(refuse(StatusCode::BAD_REQUEST, "QUERY_TOO_COMPLEX", &m));
        }
        if runs_a_mutation(doc, operation.as_deref()) {
            if let Some(refusal) = refuse_mutation(&state, &caller) {
                return Ok(refusal);
            }
        }
    }
    // Mutations record themselves in the audit trail under the caller's name; large lists are
    // written as text while the graph is held and spliced into the answer.
    let raw = RawParts::new();
    let request = request.data(caller).data(Arc::clone(&raw));
    match tokio::time::timeout(TIMEOUT, schema.execute(request)).await {
        Ok(response) => Ok(respond(
            crate::graphql::hide_internal_errors(response),
            &raw,
        )),
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

/// The answer as `application/graphql-response+json`, with the lists written as text spliced
/// in, and the cache and other headers the response asks for.
fn respond(response: async_graphql::Response, raw: &RawParts) -> HttpResponse {
    let mut answer = HttpResponse::Ok();
    if response.is_ok() {
        if let Some(cache_control) = response.cache_control.value() {
            answer.insert_header((header::CACHE_CONTROL, cache_control));
        }
    }
    for (name, value) in response.http_headers.iter() {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            answer.append_header((name, value));
        }
    }
    let body = match serde_json::to_vec(&response) {
        Ok(body) => raw.splice(body),
        Err(e) => {
            tracing::error!(error = %e, "a GraphQL answer did not serialise");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "internal error",
            );
        }
    };
    answer
        .content_type("application/graphql-response+json")
        .body(body)
}

/// GraphiQL's page loads its scripts and styles from unpkg.com and starts with an inline script.
const GRAPHIQL_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' \
    https://unpkg.com; style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data: \
    https://unpkg.com; font-src 'self' data: https://unpkg.com; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub async fn graphiql() -> HttpResponse {
    super::web_ui::page(GRAPHIQL_POLICY).body(
        GraphiQLSource::build()
            .endpoint("/api/v1/graphql")
            .title("Tributary GraphiQL")
            .finish(),
    )
}
