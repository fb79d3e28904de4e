//! Real clients against a real server: the official OpenLineage Python client.
//!
//! Runs when `TRIBUTARY_PYTHON` names a Python with the packages in `tests/clients/requirements.txt`
//! installed (`.ci/run` sets one up); prints `skipped` otherwise.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{serve, Db, TestDb};

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
/// the server URL; the script must exit 0.
async fn run_script(db: Db, name: &str, args: &[PathBuf]) {
    let Some(python) = python() else { return };
    let Some(db) = TestDb::create(db).await else {
        return;
    };
    let (mut child, addr) = serve(&db);
    let out = Command::new(python)
        .arg(script(name))
        .arg(format!("http://{addr}"))
        .args(args)
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

async fn the_openlineage_python_client_is_understood(db: Db) {
    run_script(db, "openlineage_python.py", &[]).await;
}

async fn the_marquez_python_client_reads_the_corpus(db: Db) {
    run_script(
        db,
        "marquez_python.py",
        &[match common::shared() {
            Some(dir) => dir.join("corpus/valid"),
            None => return,
        }],
    )
    .await;
}

on_both_backends!(
    the_openlineage_python_client_is_understood,
    the_marquez_python_client_reads_the_corpus,
);
