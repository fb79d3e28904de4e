//! Reading request bodies: a size limit before and after gzip, and JSON errors that say where.

use std::io::Read;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use super::ApiError;

fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "request body is larger than the limit of {limit} bytes"
    ))
}

/// The most room reserved for a body before its bytes arrive.
const PRESIZE_MAX: usize = 256 * 1024;

/// Reads the whole body (at most `limit` bytes) and decodes `Content-Encoding: gzip`.
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    // Room for the declared length at once rather than doubled into as the chunks arrive, up to
    // `PRESIZE_MAX` (a declared length is only a claim: a client that declares megabytes and
    // sends nothing reserves no more); a longer body grows, held to the limit.
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(PRESIZE_MAX));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad("", format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(body.as_slice())
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad("", format!("the body is not valid gzip: {e}")))?;
            if out.len() > limit {
                return Err(too_large(limit));
            }
            Ok(out)
        }
        Some(other) => Err(ApiError::bad(
            "",
            format!("unsupported Content-Encoding '{other}' (use gzip or none)"),
        )),
    }
}

/// Parses JSON, answering a clear 400 for an empty body or a syntax error.
pub fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad(
            "",
            "the request body is empty; send an OpenLineage event as JSON",
        ));
    }
    serde_json::from_str(text(body)?)
        .map_err(|e| ApiError::bad("", format!("the body is not valid JSON: {e}")))
}

/// The body as text ([`crate::json::text`]), or a 400 saying where it is not UTF-8.
pub fn text(body: &[u8]) -> Result<&str, ApiError> {
    crate::json::text(body)
        .map_err(|e| ApiError::bad("", format!("the body is not valid JSON: {e}")))
}

/// An optional JSON body: none (or only whitespace) is `None`; anything else must parse, or the
/// answer is a 400 saying what is wrong. Never ignored.
pub fn optional<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = parse(body)?;
    let nul = crate::ingest::limits::nul_paths(&value);
    if !nul.is_empty() {
        return Err(ApiError::BadRequest(nul));
    }
    serde_json::from_value(value).map(Some).map_err(|e| {
        ApiError::bad(
            "",
            format!("the body does not have the expected shape: {e}"),
        )
    })
}
