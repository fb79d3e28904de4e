//! The web UI: the bundle from `web/dist`, embedded at build time (see `build.rs`). Hashed assets
//! are cached for good; the app's own routes get `index.html`, so every view of the single-page
//! app can be linked and reloaded; any other path is a `404`, never the app's HTML (a scraper or
//! a client with a wrong URL must not mistake a page for an answer). Pages are served with a
//! content security policy that allows only the server's own scripts and no framing.

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

/// The first path segments the app routes (`web/src/App.tsx`); `""` is the home page.
const APP_ROUTES: [&str; 6] = ["", "lineage", "datasets", "jobs", "runs", "events"];

/// What pages may load and who may frame them: only this server's scripts, styles and data;
/// no plugins, no framing, forms only to this server.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A page answer with the security headers every page carries.
pub fn page(policy: &str) -> actix_web::HttpResponseBuilder {
    let mut answer = HttpResponse::Ok();
    answer
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    answer
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
    let first = rel.split('/').next().unwrap_or("");
    if !APP_ROUTES.contains(&first) {
        return Err(ApiError::NotFound(format!(
            "nothing is served at /{rel}: the web UI is at /, the API under /api/v1"
        )));
    }
    match asset("index.html") {
        Some(index) => Ok(page(CONTENT_SECURITY_POLICY).body(index)),
        None => Err(ApiError::NotFound(
            "this binary was built without the web UI: run `npm ci && npm run build` in web/, then rebuild"
                .into(),
        )),
    }
}
