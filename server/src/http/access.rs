//! Who may call what, decided before routing: the scope a request needs (by method and path),
//! the API key it carries (`Authorization: Bearer trb_…`), and refusals of cross-site writes
//! (a write must come from the server's own origin or an allowed one, and carry its body as
//! JSON, so no "simple" cross-site request — a form, `text/plain` — can change anything).
//! Admin actions that succeed are recorded in the audit trail.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::HttpMessage;

use super::{ApiError, AppState};
use crate::model::access::{key_id, AuthMode, Caller, Principal, Scope};
use crate::model::time::now_micros;

/// The server's access settings.
#[derive(Debug, Clone)]
pub struct Access {
    pub mode: AuthMode,
    /// Origins allowed to call the API from a browser (`*` allows any).
    pub origins: Vec<String>,
}

impl Access {
    fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }
}

/// The ingest endpoints (lakeFS's webhook records commits as versions and its tags as tags).
const INGEST_PATHS: [&str; 3] = [
    "/api/v1/lineage",
    "/api/v1/lineage/batch",
    "/api/v1/integrations/lakefs",
];
/// Where GraphQL is served: queries need `read`, mutations `admin` (decided by the handler).
pub const GRAPHQL_PATH: &str = "/api/v1/graphql";

/// Whether a method only reads.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The scope a request needs; `None` for what anyone may fetch (health checks, the web UI's
/// files and GraphiQL's page, which hold no data, and CORS preflights).
pub fn needed(method: &Method, path: &str) -> Option<Scope> {
    if *method == Method::OPTIONS {
        return None;
    }
    if path == "/metrics" {
        return Some(Scope::Read);
    }
    if !path.starts_with("/api/") {
        return None;
    }
    if path == "/api/v1/audit" {
        return Some(Scope::Admin);
    }
    if is_safe(method) {
        return Some(Scope::Read);
    }
    if *method == Method::POST && INGEST_PATHS.contains(&path) {
        return Some(Scope::Ingest);
    }
    if *method == Method::POST && path == GRAPHQL_PATH {
        return Some(Scope::Read);
    }
    Some(Scope::Admin)
}

fn header_text(req: &ServiceRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Refuses a write sent by a page of another site: browsers mark cross-site requests
/// (`Sec-Fetch-Site`) and name their origin (`Origin`); clients that are not browsers send
/// neither and pass.
fn refuse_cross_site(req: &ServiceRequest, access: &Access) -> Result<(), ApiError> {
    if is_safe(req.method()) {
        return Ok(());
    }
    let origin = header_text(req, header::ORIGIN);
    let allowed = origin.is_some_and(|o| access.allows_origin(o));
    let refuse = |from: &str| {
        Err(ApiError::Forbidden(format!(
            "a request from {from} may not change anything here; allow its origin with \
             cors_origins (TRIBUTARY_CORS_ORIGINS) if it should"
        )))
    };
    match header_text(req, header::HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin") | Some("none") => return Ok(()),
        Some(_) if allowed => return Ok(()),
        Some(_) => return refuse(origin.unwrap_or("another site")),
        None => {}
    }
    let Some(origin) = origin else {
        return Ok(());
    };
    let host = origin.split_once("://").map(|(_, h)| h);
    let own = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|h| Some(h) == host)
    };
    if allowed || own("host") || own("x-forwarded-host") {
        Ok(())
    } else {
        refuse(origin)
    }
}

/// Refuses a body that is not JSON: a browser can send `text/plain`, forms and untyped bodies
/// to any site without asking first; JSON it cannot.
fn refuse_untyped_body(req: &ServiceRequest) -> Result<(), ApiError> {
    if is_safe(req.method()) {
        return Ok(());
    }
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || header_text(req, header::CONTENT_LENGTH)
            .and_then(|l| l.trim().parse::<u64>().ok())
            .is_some_and(|l| l > 0);
    if !has_body {
        return Ok(());
    }
    let media = header_text(req, header::CONTENT_TYPE).map(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let json = media.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    });
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "a request body must be sent as Content-Type: application/json (got {})",
            media.as_deref().unwrap_or("no Content-Type")
        )))
    }
}

/// The key a request carries, if any.
fn presented_key(req: &ServiceRequest) -> Option<&str> {
    let value = header_text(req, header::AUTHORIZATION)?.trim();
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

/// The key's record, when the key is live and its text matches.
async fn identify(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    let invalid = || {
        ApiError::Unauthenticated("the API key is not valid (unknown, mistyped or revoked)".into())
    };
    let id = key_id(presented).ok_or_else(invalid)?;
    match state.store.key(id).await? {
        Some(k) if k.revoked_at.is_none() && k.matches(presented) => Ok(Principal::Key(k)),
        _ => Err(invalid()),
    }
}

/// Decides whether a request may go on; on success the caller is in the request's extensions
/// (for GraphQL's mutation check and the audit trail).
pub async fn admit(req: &ServiceRequest, state: &AppState) -> Result<(), ApiError> {
    refuse_cross_site(req, &state.access)?;
    refuse_untyped_body(req)?;
    let mode = state.access.mode;
    let principal = match needed(req.method(), req.path()) {
        None => Principal::Anonymous,
        Some(_) if mode == AuthMode::Off => Principal::Anonymous,
        Some(scope) => match presented_key(req) {
            None if mode.anonymous_may(scope) => Principal::Anonymous,
            None => {
                return Err(ApiError::Unauthenticated(format!(
                    "this request needs an API key with the '{scope}' scope \
                     (send Authorization: Bearer <key>)"
                )))
            }
            Some(presented) => {
                let principal = identify(state, presented).await?;
                if let Principal::Key(k) = &principal {
                    // A key never takes away what anonymous callers may do.
                    if !k.allows(scope) && !mode.anonymous_may(scope) {
                        return Err(ApiError::Forbidden(format!(
                            "the key '{}' lacks the '{scope}' scope this request needs",
                            k.name
                        )));
                    }
                }
                principal
            }
        },
    };
    let remote = req.peer_addr().map(|a| a.ip().to_string());
    req.extensions_mut().insert(Caller { principal, remote });
    Ok(())
}

/// Records a successful admin request (not GraphQL, whose mutations record themselves) in the
/// audit trail: the route as the action, the path with its parts decoded as the target.
pub async fn audit(state: &AppState, answer: &ServiceResponse<impl actix_web::body::MessageBody>) {
    let req = answer.request();
    let is_admin_write =
        !is_safe(req.method()) && needed(req.method(), req.path()) == Some(Scope::Admin);
    if !is_admin_write || !answer.status().is_success() {
        return;
    }
    let Some(pattern) = req.match_pattern() else {
        return;
    };
    let target = decoded_path(&pattern, req.match_info());
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
    let entry = caller.did(&format!("{} {pattern}", req.method()), target, now_micros());
    crate::store::record_audit(state.store.as_ref(), &entry).await;
}

/// The route pattern with each `{part}` replaced by its decoded value.
fn decoded_path(pattern: &str, parts: &actix_web::dev::Path<actix_web::dev::Url>) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        out.push_str(parts.get(name).unwrap_or(name));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn each_family_needs_its_scope() {
        let cases = [
            (Method::GET, "/api/v1/namespaces", Some(Scope::Read)),
            (Method::GET, "/metrics", Some(Scope::Read)),
            (Method::POST, "/api/v1/lineage", Some(Scope::Ingest)),
            (Method::POST, "/api/v1/lineage/batch", Some(Scope::Ingest)),
            (
                Method::POST,
                "/api/v1/integrations/lakefs",
                Some(Scope::Ingest),
            ),
            (Method::POST, "/api/v1/graphql", Some(Scope::Read)),
            (Method::DELETE, "/api/v1/namespaces/a", Some(Scope::Admin)),
            (Method::PUT, "/api/v1/tags/pii", Some(Scope::Admin)),
            (
                Method::POST,
                "/api/v1/namespaces/a/datasets/b/tags/t",
                Some(Scope::Admin),
            ),
            (Method::GET, "/api/v1/audit", Some(Scope::Admin)),
            (Method::GET, "/healthz", None),
            (Method::GET, "/readyz", None),
            (Method::GET, "/", None),
            (Method::GET, "/assets/index.js", None),
            (Method::OPTIONS, "/api/v1/lineage", None),
        ];
        for (method, path, scope) in cases {
            assert_eq!(needed(&method, path), scope, "{method} {path}");
        }
    }

    fn access(origins: &[&str]) -> Access {
        Access {
            mode: AuthMode::Writes,
            origins: origins.iter().map(|o| o.to_string()).collect(),
        }
    }

    #[test]
    fn writes_from_other_sites_are_refused_unless_allowed() {
        let post = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::post()
                .uri("/api/v1/lineage")
                .insert_header(("host", "lineage.local:5000"));
            for h in headers {
                r = r.insert_header(*h);
            }
            r.to_srv_request()
        };
        let none = access(&[]);
        assert!(
            refuse_cross_site(&post(&[]), &none).is_ok(),
            "not a browser"
        );
        assert!(
            refuse_cross_site(&post(&[("origin", "http://lineage.local:5000")]), &none).is_ok()
        );
        assert!(refuse_cross_site(&post(&[("sec-fetch-site", "same-origin")]), &none).is_ok());
        assert!(refuse_cross_site(&post(&[("origin", "https://evil.example")]), &none).is_err());
        assert!(refuse_cross_site(&post(&[("origin", "null")]), &none).is_err());
        assert!(refuse_cross_site(
            &post(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://ui.example")
            ]),
            &none
        )
        .is_err());
        let allowed = access(&["https://ui.example"]);
        assert!(refuse_cross_site(
            &post(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://ui.example")
            ]),
            &allowed
        )
        .is_ok());
        let get = TestRequest::get()
            .uri("/api/v1/namespaces")
            .insert_header(("origin", "https://evil.example"))
            .to_srv_request();
        assert!(
            refuse_cross_site(&get, &none).is_ok(),
            "reads change nothing"
        );
    }

    #[test]
    fn bodies_must_be_json() {
        let post = |ct: Option<&str>, body: &'static str| {
            let mut r = TestRequest::post().uri("/api/v1/lineage");
            if let Some(ct) = ct {
                r = r.insert_header(("content-type", ct));
            }
            r.insert_header(("content-length", body.len().to_string()))
                .to_srv_request()
        };
        assert!(refuse_untyped_body(&post(Some("application/json"), "{}")).is_ok());
        assert!(refuse_untyped_body(&post(Some("application/json; charset=utf-8"), "{}")).is_ok());
        assert!(refuse_untyped_body(&post(Some("application/vnd.x+json"), "{}")).is_ok());
        assert!(refuse_untyped_body(&post(Some("text/plain"), "{}")).is_err());
        assert!(
            refuse_untyped_body(&post(Some("application/x-www-form-urlencoded"), "a")).is_err()
        );
        assert!(refuse_untyped_body(&post(None, "{}")).is_err());
        assert!(
            refuse_untyped_body(&post(None, "")).is_ok(),
            "no body, nothing to type"
        );
    }

    #[test]
    fn keys_are_read_from_bearer_authorization() {
        let with = |v: &str| {
            TestRequest::get()
                .insert_header(("authorization", v))
                .to_srv_request()
        };
        assert_eq!(presented_key(&with("Bearer trb_x_y")), Some("trb_x_y"));
        assert_eq!(presented_key(&with("bearer  trb_x_y ")), Some("trb_x_y"));
        assert_eq!(presented_key(&with("Basic dXNlcg==")), None);
    }
}
