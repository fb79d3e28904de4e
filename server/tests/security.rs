//! Security, black-box on both backends: API keys and scopes in each auth mode, revocation on
//! every server at once, the audit trail, cross-site refusals, CORS, page headers, and GraphiQL's
//! introspection query.

mod common;

use serde_json::{json, Value};
use tributary::cli::client::Response;
use tributary::model::access::AuthMode;

use common::{create_key, dataset, run_event, tributary, Db, TestApp, TestDb};

fn revoke_key(db: &TestDb, name: &str) {
    let out = tributary(db)
        .args(["keys", "revoke", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Keys {
    ingest: String,
    read: String,
    admin: String,
}

/// A key presented (or not) with a request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Presented {
    None,
    Malformed,
    Unknown,
    WrongScope,
    RightScope,
}

const PRESENTED: [Presented; 5] = [
    Presented::None,
    Presented::Malformed,
    Presented::Unknown,
    Presented::WrongScope,
    Presented::RightScope,
];

/// One endpoint family: a request, the key with its scope and one without, and its success.
struct Family {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    right: &'static str,
    wrong: &'static str,
    ok: u16,
    /// Anonymous callers may make it under `writes`.
    read: bool,
}

fn key_text<'a>(keys: &'a Keys, which: &str) -> &'a str {
    match which {
        "ingest" => &keys.ingest,
        "read" => &keys.read,
        _ => &keys.admin,
    }
}

async fn call(app: &TestApp, f: &Family, key: Option<&str>) -> Response {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    app.request(f.method, &f.path, &headers, &f.body).await
}

fn families(version: &str) -> Vec<Family> {
    let gql = |q: &str| json!({"query": q}).to_string().into_bytes();
    let event = run_event(
        "COMPLETE",
        "2026-01-01T00:00:00Z",
        "01890000-0000-7000-8000-000000000002",
        "load",
        json!([]),
        json!([dataset("db", "orders", &[("id", "int")])]),
    );
    vec![
        Family {
            name: "ingest",
            method: "POST",
            path: "/api/v1/lineage".into(),
            body: event.to_string().into_bytes(),
            right: "ingest",
            wrong: "read",
            ok: 201,
            read: false,
        },
        Family {
            name: "batch ingest",
            method: "POST",
            path: "/api/v1/lineage/batch".into(),
            body: format!("[{event}]").into_bytes(),
            right: "ingest",
            wrong: "read",
            ok: 200,
            read: false,
        },
        Family {
            name: "REST read",
            method: "GET",
            path: "/api/v1/namespaces".into(),
            body: vec![],
            right: "read",
            wrong: "ingest",
            ok: 200,
            read: true,
        },
        Family {
            name: "metrics",
            method: "GET",
            path: "/metrics".into(),
            body: vec![],
            right: "read",
            wrong: "ingest",
            ok: 200,
            read: true,
        },
        Family {
            name: "GraphQL query",
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql("{ search(query: \"orders\") { totalCount } }"),
            right: "read",
            wrong: "ingest",
            ok: 200,
            read: true,
        },
        Family {
            name: "GraphQL mutation",
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(&format!(
                "mutation {{ tagDatasetVersion(datasetId: \"dataset:db:orders\", version: \"{version}\", tag: \"prod\") {{ id }} }}"
            )),
            right: "admin",
            wrong: "read",
            ok: 200,
            read: false,
        },
        Family {
            name: "tag PUT",
            method: "PUT",
            path: "/api/v1/tags/pii".into(),
            body: br#"{"description": "personal data"}"#.to_vec(),
            right: "admin",
            wrong: "ingest",
            ok: 200,
            read: false,
        },
        Family {
            name: "version tag",
            method: "PUT",
            path: format!("/api/v1/namespaces/db/datasets/orders/versions/{version}/tags/v1"),
            body: vec![],
            right: "admin",
            wrong: "ingest",
            ok: 200,
            read: false,
        },
        Family {
            name: "dataset tag",
            method: "POST",
            path: "/api/v1/namespaces/db/datasets/orders/tags/pii".into(),
            body: vec![],
            right: "admin",
            wrong: "read",
            ok: 200,
            read: false,
        },
        Family {
            name: "audit",
            method: "GET",
            path: "/api/v1/audit".into(),
            body: vec![],
            right: "admin",
            wrong: "read",
            ok: 200,
            read: false,
        },
    ]
}

/// What a request should get in `mode`.
fn expected(mode: AuthMode, f: &Family, p: Presented) -> u16 {
    let anonymous = mode == AuthMode::Writes && f.read;
    match p {
        Presented::None if anonymous => f.ok,
        Presented::None | Presented::Malformed | Presented::Unknown => 401,
        Presented::WrongScope if anonymous => f.ok,
        Presented::WrongScope => 403,
        Presented::RightScope => f.ok,
    }
}

async fn the_scope_matrix_holds_in_writes_and_all(db: Db) {
    let Some(test_db) = TestDb::create(db).await else {
        return;
    };
    let keys = Keys {
        ingest: create_key(&test_db, "emitter", &["ingest"]),
        read: create_key(&test_db, "dashboards", &["read"]),
        admin: create_key(&test_db, "ops", &["admin"]),
    };
    let url = test_db.url.clone();
    let writes = TestApp::start(test_db, |c| c.auth = Some(AuthMode::Writes)).await;
    let all = TestApp::start(TestDb::borrowed(&url), |c| c.auth = Some(AuthMode::All)).await;
    // Something to read and tag.
    let seed = &families("")[0];
    assert_eq!(call(&writes, seed, Some(&keys.admin)).await.status, 201);
    let versions = call(
        &writes,
        &Family {
            method: "GET",
            path: "/api/v1/namespaces/db/datasets/orders/versions".into(),
            body: vec![],
            ..families("").remove(2)
        },
        Some(&keys.read),
    )
    .await
    .json();
    let version = versions["versions"][0]["version"]
        .as_str()
        .unwrap()
        .to_string();

    for (mode, app) in [(AuthMode::Writes, &writes), (AuthMode::All, &all)] {
        for f in families(&version) {
            for p in PRESENTED {
                let key = match p {
                    Presented::None => None,
                    Presented::Malformed => Some("not-a-key".to_string()),
                    Presented::Unknown => Some(format!("trb_0123456789ab_{}", "ab".repeat(24))),
                    Presented::WrongScope => Some(key_text(&keys, f.wrong).to_string()),
                    Presented::RightScope => Some(key_text(&keys, f.right).to_string()),
                };
                let r = call(app, &f, key.as_deref()).await;
                let want = expected(mode, &f, p);
                let body = String::from_utf8_lossy(&r.body).into_owned();
                assert_eq!(r.status, want, "{mode} {} with {p:?}: {body}", f.name);
                match r.status {
                    401 => {
                        assert!(r.header("www-authenticate").is_some(), "{}", f.name);
                        assert_refusal(&f, &r.json(), "UNAUTHENTICATED", "key");
                    }
                    403 => assert_refusal(&f, &r.json(), "FORBIDDEN", f.right),
                    _ => {
                        let v = r.json();
                        assert!(v.get("errors").is_none(), "{} {p:?}: {body}", f.name);
                    }
                }
                // Key text never comes back.
                if let Some(k) = &key {
                    assert!(!body.contains(k.as_str()), "{} echoed the key", f.name);
                }
            }
        }
    }
}

/// A refusal in the family's error shape, saying what is needed.
fn assert_refusal(f: &Family, body: &Value, code: &str, needs: &str) {
    let message = if f.path == "/api/v1/graphql" {
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        body["errors"][0]["message"].as_str().unwrap().to_string()
    } else {
        assert!(body["code"].as_u64().is_some(), "{body}");
        body["message"].as_str().unwrap().to_string()
    };
    assert!(message.contains(needs), "{}: {message}", f.name);
}

async fn a_revoked_key_is_refused_at_once_by_every_server(db: Db) {
    let Some(test_db) = TestDb::create(db).await else {
        return;
    };
    let key = create_key(&test_db, "airflow", &["ingest"]);
    let url = test_db.url.clone();
    let one = TestApp::start(test_db, |_| {}).await;
    let two = TestApp::start(TestDb::borrowed(&url), |_| {}).await;
    let family = &families("")[0];
    // With a key in the database and no auth configured, loopback servers require keys.
    for app in [&one, &two] {
        assert_eq!(call(app, family, None).await.status, 401);
        assert_eq!(call(app, family, Some(&key)).await.status, 201);
    }
    revoke_key(&one.db, "airflow");
    for app in [&one, &two] {
        let r = call(app, family, Some(&key)).await;
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    }
    // The name is free again; the new key works, the old one still does not.
    let again = create_key(&one.db, "airflow", &["ingest"]);
    assert_eq!(call(&two, family, Some(&again)).await.status, 201);
    assert_eq!(call(&two, family, Some(&key)).await.status, 401);
}

async fn the_audit_trail_names_the_key(db: Db) {
    let Some(test_db) = TestDb::create(db).await else {
        return;
    };
    let admin = create_key(&test_db, "ops", &["admin"]);
    let app = TestApp::start(test_db, |c| c.auth = Some(AuthMode::Writes)).await;
    let bearer = format!("Bearer {admin}");
    let h = |json: bool| {
        let mut h = vec![("Authorization", bearer.as_str())];
        if json {
            h.push(("Content-Type", "application/json"));
        }
        h
    };
    let seed = &families("")[0];
    assert_eq!(call(&app, seed, Some(&admin)).await.status, 201);
    let r = app
        .request(
            "POST",
            "/api/v1/namespaces/db/datasets/orders/tags/pii",
            &h(false),
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = app
        .request(
            "PUT",
            "/api/v1/namespaces/tests",
            &h(true),
            br#"{"ownerName": "data-eng"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // A refused change is not an action taken.
    let r = app
        .request("DELETE", "/api/v1/namespaces/db", &[], b"")
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .request("DELETE", "/api/v1/namespaces/db", &h(false), b"")
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let r = app
        .request("GET", "/api/v1/audit?limit=3", &h(false), b"")
        .await;
    assert_eq!(r.status, 200);
    let page = r.json();
    // key.create, the tag, the namespace PUT, the delete.
    assert_eq!(page["totalCount"], 4, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let row = |e: &Value| format!("{} | {} | {}", e["actor"], e["action"], e["target"]);
    assert_eq!(
        row(&entries[0]),
        r#""ops" | "DELETE /api/v1/namespaces/{ns}" | "/api/v1/namespaces/db""#
    );
    assert_eq!(entries[1]["action"], "PUT /api/v1/namespaces/{ns}");
    assert_eq!(
        row(&entries[2]),
        r#""ops" | "POST /api/v1/namespaces/{ns}/datasets/{name}/tags/{tag}" | "/api/v1/namespaces/db/datasets/orders/tags/pii""#
    );
    assert_eq!(entries[0]["remote"], "127.0.0.1");
    assert!(entries[0]["at"].as_str().unwrap().ends_with('Z'));
    let oldest = app
        .request("GET", "/api/v1/audit?limit=1&offset=3", &h(false), b"")
        .await
        .json();
    let first = &oldest["entries"][0];
    assert_eq!(first["action"], "key.create");
    assert!(
        first["actor"].as_str().unwrap().starts_with("cli:"),
        "{first}"
    );
    assert_eq!(first["target"], "ops (admin)");
}

async fn cross_site_writes_are_refused(db: Db) {
    // Auth off (loopback, no keys): only the cross-site rules stand between a page and a write.
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let event = families("")[0].body.clone();
    let plain = [("Content-Type", "text/plain")];
    let r = app.request("POST", "/api/v1/lineage", &plain, &event).await;
    assert_eq!(r.status, 415, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    let r = app
        .request_exact("POST", "/api/v1/lineage", &[], &event)
        .await;
    assert_eq!(r.status, 415, "an untyped body is refused too");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = app
        .request("POST", "/api/v1/lineage/batch", &form, &event)
        .await;
    assert_eq!(r.status, 415);
    let mutation = json!({"query": "mutation { untagDatasetVersion(datasetId: \"dataset:db:orders\", version: \"x\", tag: \"t\") { id } }"});
    let r = app
        .request(
            "POST",
            "/api/v1/graphql",
            &plain,
            mutation.to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.json()["errors"][0]["extensions"]["code"],
        "UNSUPPORTED_MEDIA_TYPE"
    );
    assert_eq!(app.event_count().await, 0, "nothing was stored");

    app.ingest(&serde_json::from_slice(&event).unwrap()).await;
    let tag = "/api/v1/namespaces/db/datasets/orders/tags/pii";
    for headers in [
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
        vec![
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "https://evil.example"),
        ],
        vec![("Sec-Fetch-Site", "same-site")],
    ] {
        let r = app.request("POST", tag, &headers, b"").await;
        assert_eq!(
            r.status,
            403,
            "{headers:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let r = app
            .request("DELETE", "/api/v1/namespaces/db", &headers, b"")
            .await;
        assert_eq!(r.status, 403, "{headers:?}");
    }
    let tags = app.get_json("/api/v1/namespaces/db/datasets/orders").await;
    assert_eq!(
        tags["tags"],
        json!([]),
        "no cross-site request tagged the dataset"
    );
    // The server's own pages may write.
    let own = format!("http://{}", app.addr);
    let r = app
        .request("POST", tag, &[("Origin", own.as_str())], b"")
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = app
        .request("POST", tag, &[("Sec-Fetch-Site", "same-origin")], b"")
        .await;
    assert_eq!(r.status, 200);
    // Reads from anywhere change nothing and are not refused.
    let r = app
        .request(
            "GET",
            "/api/v1/namespaces",
            &[("Origin", "https://evil.example")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
}

async fn allowed_origins_get_cors(db: Db) {
    let Some(app) = TestApp::spawn_with(db, |c| {
        c.cors_origins = vec!["https://ui.example".into()];
    })
    .await
    else {
        return;
    };
    let preflight = |origin: &'static str| {
        vec![
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ]
    };
    let r = app
        .request(
            "OPTIONS",
            "/api/v1/lineage",
            &preflight("https://ui.example"),
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ui.example")
    );
    let allowed = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    let r = app
        .request(
            "OPTIONS",
            "/api/v1/lineage",
            &preflight("https://evil.example"),
            b"",
        )
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.status >= 400, "{}", r.status);

    let event = families("")[0].body.clone();
    let from_ui = [
        ("Origin", "https://ui.example"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Content-Type", "application/json"),
    ];
    let r = app
        .request("POST", "/api/v1/lineage", &from_ui, &event)
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ui.example")
    );
    let from_evil = [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Content-Type", "application/json"),
    ];
    let r = app
        .request("POST", "/api/v1/lineage", &from_evil, &event)
        .await;
    assert!(r.status == 400 || r.status == 403, "{}", r.status);
    assert_eq!(app.event_count().await, 1);
}

async fn pages_carry_security_headers_and_other_paths_are_not_pages(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    for page in ["/", "/datasets/db/orders", "/lineage", "/graphiql"] {
        let r = app.get(page).await;
        if r.status == 404 && page != "/graphiql" {
            // A binary built without the web UI says so; nothing else to check.
            continue;
        }
        assert_eq!(r.status, 200, "{page}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{page}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{page}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{page}"
        );
    }
    let csp = app.get("/").await;
    if csp.status == 200 {
        let policy = csp.header("content-security-policy").unwrap();
        assert!(
            policy.contains("script-src 'self';"),
            "the app runs only its own scripts: {policy}"
        );
    }
    for path in [
        "/metrics-typo",
        "/wp-admin",
        "/actuator/health",
        "/api/v2/lineage",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .starts_with("application/json"),
            "{path} answered a page"
        );
    }
    let metrics = app.get("/metrics").await;
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        app.get("/api/v1/namespaces")
            .await
            .header("x-content-type-options"),
        Some("nosniff")
    );
}

/// GraphiQL's schema explorer sends this (graphql-js `getIntrospectionQuery`, with descriptions,
/// deprecations and input value deprecations).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

async fn graphiql_introspection_is_answered(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let v = app.graphql(INTROSPECTION, json!({})).await;
    assert!(v.get("errors").is_none(), "{v}");
    let types = v["data"]["__schema"]["types"].as_array().unwrap();
    assert!(
        types.iter().any(|t| t["name"] == "Query"),
        "{}",
        types.len()
    );
    assert_eq!(v["data"]["__schema"]["mutationType"]["name"], "Mutation");
    // Every error carries a code: documents the engine refuses, fields refusing their input.
    for (query, code) in [
        ("{ noSuchField }", Some("GRAPHQL_VALIDATION_FAILED")),
        (
            "{ search(query: 5) { totalCount } }",
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        ("{ lineage(nodeId: \"dataset:a\") { nodes { id } } }", None),
        ("{ lineage(nodeId: \"nonsense\") { nodes { id } } }", None),
        (
            "{ impact(nodeId: \"dataset:a:b\", asOf: \"yesterday\") { totalCount } }",
            None,
        ),
    ] {
        let v = app.graphql(query, json!({})).await;
        let errors = v["errors"].as_array().unwrap_or_else(|| panic!("{v}"));
        for e in errors {
            let got = e["extensions"]["code"].as_str();
            assert!(got.is_some_and(|c| !c.is_empty()), "{query}: {v}");
            if let Some(code) = code {
                assert_eq!(got, Some(code), "{query}: {v}");
            }
        }
    }
}

on_both_backends!(
    the_scope_matrix_holds_in_writes_and_all,
    a_revoked_key_is_refused_at_once_by_every_server,
    the_audit_trail_names_the_key,
    cross_site_writes_are_refused,
    allowed_origins_get_cors,
    pages_carry_security_headers_and_other_paths_are_not_pages,
    graphiql_introspection_is_answered,
);
