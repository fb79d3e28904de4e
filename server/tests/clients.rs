//! Real clients against a real server: the official OpenLineage Python client and Marquez's,
//! anonymous on a loopback server and with API keys on one that requires them.
//!
//! Runs when `TRIBUTARY_PYTHON` names a Python with the packages in `tests/clients/requirements.txt`
//! installed (`.ci/run` sets one up); prints `skipped` otherwise.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{create_key, serve_env, Db, TestDb};

fn python() -> Option<String> {
    let p = std::env::var("TRIBUTARY_PYTHON").ok();
    if p.is_none() {
        eprintln!("skipped: TRIBUTARY_PYTHON is not set");
    }
    p
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/clients")
        .join(name)
}

/// Starts a server on a fresh database and runs a client script against it with `args` after
/// the server URL; the script must exit 0. With `key`, the server requires keys (`auth`), and a
/// key with `key.scopes` is handed to the script in the environment variable `key.var`.
async fn run_script(db: Db, name: &str, args: &[PathBuf], key: Option<KeyFor<'_>>) {
    let Some(python) = python() else { return };
    let Some(db) = TestDb::create(db).await else {
        return;
    };
    let mut script_env = Vec::new();
    let mut server_env = Vec::new();
    if let Some(k) = &key {
        script_env.push((k.var, create_key(&db, "client", k.scopes)));
        server_env.push(("TRIBUTARY_AUTH", k.mode));
    }
    let (mut child, addr) = serve_env(&db, &server_env);
    let out = Command::new(python)
        .arg(script(name))
        .arg(format!("http://{addr}"))
        .args(args)
        .env_remove("OPENLINEAGE_API_KEY")
        .env_remove("MARQUEZ_API_KEY")
        .envs(script_env)
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key for a client script: the server's auth mode, the key's scopes, the variable it goes in.
struct KeyFor<'a> {
    mode: &'a str,
    scopes: &'a [&'a str],
    var: &'a str,
}

fn corpus() -> Option<PathBuf> {
    common::shared().map(|dir| dir.join("corpus/valid"))
}

async fn the_openlineage_python_client_is_understood(db: Db) {
    run_script(db, "openlineage_python.py", &[], None).await;
}

async fn the_openlineage_python_client_sends_its_api_key(db: Db) {
    let key = KeyFor {
        mode: "writes",
        scopes: &["ingest"],
        var: "OPENLINEAGE_API_KEY",
    };
    run_script(db, "openlineage_python.py", &[], Some(key)).await;
}

async fn the_marquez_python_client_reads_the_corpus(db: Db) {
    let Some(corpus) = corpus() else { return };
    run_script(db, "marquez_python.py", &[corpus], None).await;
}

async fn the_marquez_python_client_reads_with_its_api_key(db: Db) {
    let Some(corpus) = corpus() else { return };
    // Everything needs a key; this one may send the corpus, read it and tag it.
    let key = KeyFor {
        mode: "all",
        scopes: &["ingest", "read", "admin"],
        var: "MARQUEZ_API_KEY",
    };
    run_script(db, "marquez_python.py", &[corpus], Some(key)).await;
}

on_both_backends!(
    the_openlineage_python_client_is_understood,
    the_openlineage_python_client_sends_its_api_key,
    the_marquez_python_client_reads_the_corpus,
    the_marquez_python_client_reads_with_its_api_key,
);
