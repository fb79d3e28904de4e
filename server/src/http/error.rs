//! The one place errors become HTTP answers, in one JSON shape:
//! `{"code": 400, "message": "…", "errors": [{"path": "/run/runId", "detail": "…"}]}`.
//! `code`/`message` are what Marquez clients read; `errors` lists every problem.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{chain, Cause};
use crate::ingest::{Problem, Rejection, WriterError};
use crate::store::StoreError;

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; every problem is listed.
    #[error("{}", summary(.0))]
    BadRequest(Vec<Problem>),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// No API key, or one that is not valid, where the request needs one.
    #[error("{0}")]
    Unauthenticated(String),
    /// The key lacks the scope, or the request came from another site.
    #[error("{0}")]
    Forbidden(String),
    /// A body that is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A write endpoint Marquez deprecated; writes come as OpenLineage events.
    #[error("{0}")]
    LegacyWrite(String),
    /// The database cannot take the request now (away, out of room, timed out); retrying later
    /// may work. The cause is logged, not answered.
    #[error("the database is unavailable right now; nothing was changed, retry later")]
    Unavailable(Cause),
    /// Too many requests wait for their turn (`max_concurrent_reads`); retrying later may work.
    #[error("{0}; retry later")]
    Busy(String),
    /// The server is shutting down.
    #[error("the server is shutting down; retry later")]
    ShuttingDown,
    /// A bug or a broken database; the details are in the log, not the answer.
    #[error("internal error")]
    Internal(Cause),
}

/// What a `503` tells clients to wait before retrying (`Retry-After`, seconds).
const RETRY_AFTER_SECONDS: &str = "1";

/// What a `401` asks for (`WWW-Authenticate`).
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"tributary\"";

/// Starts an answer with `status`; a `503` says when to retry (`Retry-After`).
pub fn answer(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut answer = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        answer.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS));
    }
    answer
}

fn summary(problems: &[Problem]) -> String {
    Rejection(problems.to_vec()).summary()
}

#[derive(Serialize)]
struct Body<'a> {
    code: u16,
    message: String,
    errors: Vec<ErrorItem<'a>>,
}

#[derive(Serialize)]
struct ErrorItem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    detail: String,
}

impl ApiError {
    /// Whether this says no database connection could be had within the acquire timeout.
    pub fn waited_for_a_connection(&self) -> bool {
        matches!(self, ApiError::Unavailable(cause)
            if cause.downcast_ref::<StoreError>().is_some_and(StoreError::is_pool_timeout))
    }

    /// The code a GraphQL client reads in `extensions.code`.
    pub fn graphql_code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_USER_INPUT",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::TooLarge(_) => "REQUEST_TOO_LARGE",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::LegacyWrite(_) => "METHOD_NOT_ALLOWED",
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::ShuttingDown => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// A bad request with a single problem.
    pub fn bad(path: &str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest(vec![Problem::new(path, detail)])
    }
}

impl From<crate::repro::ReproError> for ApiError {
    fn from(e: crate::repro::ReproError) -> Self {
        use crate::repro::ReproError;
        match e {
            ReproError::NotFound(m) => ApiError::NotFound(m),
            ReproError::BadInput(m) => ApiError::bad("", m),
            ReproError::Store(e) => e.into(),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        ApiError::BadRequest(r.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Disconnected(_) => {
                ApiError::Unavailable(Cause::new(e))
            }
            StoreError::Database(_)
            | StoreError::Migration(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::Corrupt(_) => ApiError::Internal(Cause::new(e)),
        }
    }
}

impl From<WriterError> for ApiError {
    fn from(e: WriterError) -> Self {
        match e {
            WriterError::Store(s) => s.into(),
            WriterError::Closed => ApiError::ShuttingDown,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::LegacyWrite(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let errors = match self {
            ApiError::BadRequest(problems) => problems
                .iter()
                .map(|p| ErrorItem {
                    path: Some(p.path.as_str()),
                    detail: p.detail.clone(),
                })
                .collect(),
            ApiError::Unavailable(cause) => {
                tracing::warn!(cause = %chain(cause), "database unavailable; answered 503");
                vec![ErrorItem {
                    path: None,
                    detail: self.to_string(),
                }]
            }
            ApiError::Internal(cause) => {
                let id = uuid::Uuid::new_v4();
                tracing::error!(error_id = %id, cause = %chain(cause), "internal error");
                vec![ErrorItem {
                    path: None,
                    detail: format!("internal error (error id {id})"),
                }]
            }
            other => vec![ErrorItem {
                path: None,
                detail: other.to_string(),
            }],
        };
        let message = match self {
            ApiError::Internal(_) => errors[0].detail.clone(),
            other => other.to_string(),
        };
        let mut answer = answer(status);
        if status == StatusCode::UNAUTHORIZED {
            answer.insert_header((actix_web::http::header::WWW_AUTHENTICATE, BEARER_CHALLENGE));
        }
        answer.json(Body {
            code: status.as_u16(),
            message,
            errors,
        })
    }
}
