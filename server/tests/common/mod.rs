//! Test harness: `TestApp::spawn` starts the real server on port 0 with a fresh database — a
//! new SQLite file, or a new Postgres database (created here, dropped when the app is dropped)
//! on the server `TRIBUTARY_TEST_DATABASE_URL` names.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use serde_json::{json, Value};
use tributary::cli::client;
pub use tributary::cli::client::Response;
use tributary::config::Config;
use tributary::ingest::ValidationMode;
use tributary::startup::Application;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database created for one test.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database, or `None` (with a note) when Postgres is asked for but not configured.
    pub async fn create(db: Db) -> Option<TestDb> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(TestDb {
                    url,
                    admin_url: None,
                    name: None,
                    _dir: Some(dir),
                })
            }
            Db::Postgres => {
                let Ok(admin) = std::env::var("TRIBUTARY_TEST_DATABASE_URL") else {
                    eprintln!("skipped: TRIBUTARY_TEST_DATABASE_URL is not set");
                    return None;
                };
                let name = format!("tributary_test_{}", uuid::Uuid::new_v4().simple());
                run_admin(&admin, &format!("CREATE DATABASE {name}")).await;
                let url = replace_db(&admin, &name);
                Some(TestDb {
                    url,
                    admin_url: Some(admin),
                    name: Some(name),
                    _dir: None,
                })
            }
        }
    }
}

fn replace_db(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn run_admin(admin: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to TRIBUTARY_TEST_DATABASE_URL");
    sqlx::Executor::execute(&mut conn, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl TestDb {
    /// A handle on a database another `TestDb` owns (dropping it drops nothing).
    pub fn borrowed(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            admin_url: None,
            name: None,
            _dir: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let (Some(admin), Some(name)) = (self.admin_url.take(), self.name.take()) {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(run_admin(&admin, &sql));
            })
            .join();
        }
    }
}

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub config: Config,
}

impl TestApp {
    /// Starts a server on a fresh database.
    pub async fn spawn(db: Db) -> Option<TestApp> {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts a server on a fresh database with a changed configuration.
    pub async fn spawn_with(db: Db, change: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let db = TestDb::create(db).await?;
        Some(Self::start(db, change).await)
    }

    /// Starts a server on an existing database.
    pub async fn start(db: TestDb, change: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config {
            bind: "127.0.0.1:0".into(),
            database_url: db.url.clone(),
            workers: 1,
            db_max_connections: 4,
            ..Config::default()
        };
        change(&mut config);
        let app = Application::build(&config).await.expect("server builds");
        let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
        tokio::spawn(app.run_until_stopped());
        TestApp { addr, db, config }
    }

    /// Sends a request; a body goes as JSON unless the headers name its type (the server
    /// takes bodies only as JSON: `request_exact` sends exactly what it is given).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let typed = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let mut headers = headers.to_vec();
        if !typed && !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.request_exact(method, path, &headers, body).await
    }

    /// Sends a request with exactly these headers.
    pub async fn request_exact(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        client::request(self.addr, method, path, headers, body)
            .await
            .expect("request")
    }

    pub async fn post_event(&self, event: &Value) -> Response {
        self.request(
            "POST",
            "/api/v1/lineage",
            &[("Content-Type", "application/json")],
            event.to_string().as_bytes(),
        )
        .await
    }

    /// Posts an event and insists it was accepted.
    pub async fn ingest(&self, event: &Value) {
        let r = self.post_event(event).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }

    /// Posts events to the batch endpoint; every one must be accepted.
    pub async fn ingest_batch(&self, events: &Value) {
        let body = events.to_string();
        let r = self
            .request("POST", "/api/v1/lineage/batch", &[], body.as_bytes())
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"").await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(
            r.status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// How many events the log holds.
    pub async fn event_count(&self) -> i64 {
        self.get_json("/api/v1/events/lineage?limit=0&before=9999-12-31T00:00:00Z")
            .await["totalCount"]
            .as_i64()
            .unwrap()
    }
}

/// Runs a scenario on SQLite and on Postgres, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Db::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Db::Postgres).await;
                }
            )*
        }
    };
}

/// The shared folder beside the repository (`TRIBUTARY_SHARED_DIR` overrides), holding the event
/// corpus and the official OpenLineage schemas. `None` (with a note) where a clone stands alone;
/// under CI (`CI` set) its absence is a failure, never a skip.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var("TRIBUTARY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("corpus").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have the shared corpus at {}",
        dir.display()
    );
    eprintln!(
        "skipped: no shared corpus at {} (set TRIBUTARY_SHARED_DIR)",
        dir.display()
    );
    None
}

/// Every event file under a corpus folder, sorted; `None` when there is no shared corpus.
pub fn corpus_files(sub: &str) -> Option<Vec<PathBuf>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&shared()?.join("corpus").join(sub), &mut out);
    assert!(!out.is_empty(), "no corpus files under {sub}");
    Some(out)
}

/// A run event with sensible defaults.
pub fn run_event(
    event_type: &str,
    time: &str,
    run_id: &str,
    job: &str,
    inputs: Value,
    outputs: Value,
) -> Value {
    json!({
        "eventType": event_type,
        "eventTime": time,
        "producer": "https://example.com/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id},
        "job": {"namespace": "tests", "name": job},
        "inputs": inputs,
        "outputs": outputs,
    })
}

/// A dataset reference with a schema facet of the given fields (name, type).
pub fn dataset(ns: &str, name: &str, fields: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(n, t)| json!({"name": n, "type": t}))
        .collect();
    json!({"namespace": ns, "name": name, "facets": {"schema": {
        "_producer": "https://example.com/tests", "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
        "fields": fields}}})
}

pub fn validation(mode: ValidationMode) -> impl FnOnce(&mut Config) {
    move |c| c.validation = mode
}

/// The `tributary` binary, pointed at a test database, logging JSON.
pub fn tributary(db: &TestDb) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"));
    c.env("TRIBUTARY_DATABASE_URL", &db.url)
        .env("TRIBUTARY_LOG_FORMAT", "json")
        .env_remove("TRIBUTARY_CONFIG");
    c
}

/// Makes an API key with `tributary keys create` and answers its text.
pub fn create_key(db: &TestDb, name: &str, scopes: &[&str]) -> String {
    let mut cmd = tributary(db);
    cmd.args(["keys", "create", "--name", name]);
    for s in scopes {
        cmd.args(["--scope", s]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("trb_"), "{key}");
    key
}

/// Starts `tributary serve` on port 0 and reads the port it logs.
pub fn serve(db: &TestDb) -> (Child, SocketAddr) {
    serve_env(db, &[])
}

/// `serve` with more environment variables (`TRIBUTARY_AUTH`, …).
pub fn serve_env(db: &TestDb, env: &[(&str, &str)]) -> (Child, SocketAddr) {
    let mut child = tributary(db)
        .envs(env.iter().copied())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if let Some(p) = v.get("port").and_then(Value::as_u64) {
                break p as u16;
            }
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, SocketAddr::from(([127, 0, 0, 1], port)))
}

impl TestApp {
    /// Runs a GraphQL query; answers the whole response (`data` and `errors`).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let body = json!({"query": query, "variables": variables}).to_string();
        let r = self
            .request(
                "POST",
                "/api/v1/graphql",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }
}

/// A connection pool on a test's database, for tests that reach under the API.
pub async fn pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .expect("test database answers")
}

/// A TLS-terminating proxy in front of a plain-HTTP server, as an HTTPS ingress would stand
/// before it: `https://127.0.0.1:<port>` (or `localhost`), vouched for by a self-signed CA whose
/// PEM is in `ca`.
pub struct TlsProxy {
    pub addr: SocketAddr,
    pub ca: PathBuf,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsProxy {
    pub async fn start(upstream: SocketAddr) -> TlsProxy {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let dir = tempfile::tempdir().unwrap();
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".into()])
                .unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A refused handshake (an untrusting client) just ends the connection.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsProxy {
            addr,
            ca,
            _dir: dir,
            task,
        }
    }
}
