//! The web UI: the bundle from `web/dist`, embedded at build time (see `build.rs`). Hashed assets
//! are cached for good; any other path that is not an API route gets `index.html`, so every view
//! of the single-page app can be linked and reloaded.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::ApiError;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

fn asset(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| assets::ASSETS[i].1)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Serves a file of the bundle, or `index.html` for the app's own routes. Paths under `/api/`
/// that no route took are API errors, not pages.
pub async fn serve(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    let readable = req.method() == actix_web::http::Method::GET
        || req.method() == actix_web::http::Method::HEAD;
    if !readable || path.starts_with("/api/") || path == "/api" {
        return Err(ApiError::NotFound("no such endpoint".into()));
    }
    let rel = path.trim_start_matches('/');
    if let Some(bytes) = asset(rel).filter(|_| !rel.is_empty()) {
        let cache = if rel.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return Ok(HttpResponse::Ok()
            .content_type(content_type(rel))
            .insert_header((header::CACHE_CONTROL, cache))
            .body(bytes));
    }
    if rel.starts_with("assets/") {
        return Err(ApiError::NotFound(format!("no asset '{rel}'")));
    }
    match asset("index.html") {
        Some(index) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(index)),
        None => Err(ApiError::NotFound(
            "this binary was built without the web UI: run `npm ci && npm run build` in web/, then rebuild"
                .into(),
        )),
    }
}
