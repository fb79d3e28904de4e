//! `tributary check --storage` against real tables: a Delta table (on the local disk and on an
//! S3-compatible endpoint) and an Iceberg table written by `deltalake` and `pyiceberg`, their
//! versions reported by `openlineage-python`. The gate passes; after `VACUUM` with zero
//! retention and `expire_snapshots` it fails, naming exactly the versions that went.
//!
//! Needs `TRIBUTARY_STORAGE_PYTHON`: a Python with tests/storage/requirements.txt (`.ci/run`
//! makes it).

mod common;

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use common::{Db, TestApp};

fn python() -> Option<String> {
    match std::env::var("TRIBUTARY_STORAGE_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the storage tests: set TRIBUTARY_STORAGE_PYTHON"
            );
            eprintln!("skipped: TRIBUTARY_STORAGE_PYTHON is not set");
            None
        }
    }
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/storage/tables.py");

/// moto's S3 server on a free loopback port, stopped when dropped.
struct Moto(std::process::Child, String);

impl Moto {
    fn start(python: &str) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Stopped by its Drop, whatever happens next.
        let moto = Moto(child, format!("http://127.0.0.1:{port}"));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto did not start on {}", moto.1);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn script(python: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg(SCRIPT)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tables.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `tributary check --storage` for each expectation: (exit 0, stdout).
fn gate(server: &str, endpoint: &str, expect: &[String]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.args(["check", "--storage", "--server", server]);
    for e in expect {
        cmd.args(["--expect", e]);
    }
    let out = cmd
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ALLOW_HTTP", "true")
        .env_remove("TRIBUTARY_API_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The lines of the gate's answer about `expect`.
fn line<'a>(text: &'a str, expect: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(expect))
        .unwrap_or_else(|| panic!("nothing about {expect} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_asks_delta_and_iceberg_whether_their_snapshots_still_exist() {
    let Some(python) = python() else {
        return;
    };
    let Some(app) = TestApp::spawn(Db::Sqlite).await else {
        return;
    };
    let server = format!("http://{}", app.addr);
    let moto = Moto::start(&python);
    let work = tempfile::tempdir().unwrap();
    let work = work.path().to_str().unwrap().to_string();
    let python2 = python.clone();
    let (w, url, endpoint) = (work.clone(), server.clone(), moto.1.clone());
    let written =
        tokio::task::spawn_blocking(move || script(&python2, &["write", &w, &url, &endpoint]))
            .await
            .unwrap();
    let written: Value = serde_json::from_str(&written).unwrap();
    let expectations = |table: &str| -> Vec<String> {
        let t = &written[table];
        t["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                format!(
                    "{}:{}#{}",
                    t["namespace"].as_str().unwrap(),
                    t["name"].as_str().unwrap(),
                    v.as_str().unwrap()
                )
            })
            .collect()
    };
    let (delta, iceberg, s3, checkpointed, s3_iceberg) = (
        expectations("delta"),
        expectations("iceberg"),
        expectations("s3delta"),
        expectations("checkpointed"),
        expectations("s3iceberg"),
    );
    assert_eq!((delta.len(), s3.len()), (3, 3), "{written}");
    assert!(iceberg.len() >= 3 && s3_iceberg.len() >= 3, "{written}");
    let all: Vec<String> = [
        delta.clone(),
        iceberg.clone(),
        s3.clone(),
        checkpointed.clone(),
        s3_iceberg.clone(),
    ]
    .concat();

    // Every version the pipeline wrote can be read.
    let (srv, end) = (server.clone(), moto.1.clone());
    let expect = all.clone();
    let (ok, text) = tokio::task::spawn_blocking(move || gate(&srv, &end, &expect))
        .await
        .unwrap();
    assert!(ok, "{text}");
    for e in &all {
        assert!(line(&text, e).starts_with("ok"), "{text}");
    }
    assert!(
        line(&text, &delta[0]).contains("data files present"),
        "{text}"
    );
    assert!(
        line(&text, &iceberg[0]).contains("manifest list present"),
        "{text}"
    );
    // The files of versions 2 and 3 come from the checkpoint (Parquet), its early log gone.
    assert!(
        line(&text, &checkpointed[0]).contains("from checkpoint 2, its 3 data files present"),
        "{text}"
    );
    assert!(
        line(&text, &checkpointed[1]).contains("from checkpoint 2, its 4 data files present"),
        "{text}"
    );

    // What teams depend on: Delta version 0, tagged, and version 1, read by the training run
    // whose model version is tagged.
    let delta_path = written["delta"]["name"].as_str().unwrap().to_string();
    app.ingest(&json!({
        "eventType": "COMPLETE",
        "eventTime": "2030-01-01T00:00:00Z",
        "producer": "https://example.com/train",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0191f7c2-aaaa-7000-8000-00000000beef"},
        "job": {"namespace": "ml", "name": "train_churn"},
        "inputs": [{"namespace": "file", "name": delta_path, "facets": {"version": {
            "_producer": "https://example.com/train",
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
            "datasetVersion": "1"}}}],
        "outputs": [{"namespace": "models", "name": "churn", "facets": {"version": {
            "_producer": "https://example.com/train",
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
            "datasetVersion": "m1"}}}],
    }))
    .await;
    let encoded = delta_path.replace('/', "%2F");
    for path in [
        "/api/v1/namespaces/models/datasets/churn/versions/m1/tags/prod".to_string(),
        format!("/api/v1/namespaces/file/datasets/{encoded}/versions/0/tags/v0"),
    ] {
        let r = app.request("PUT", &path, &[], b"").await;
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let cli = |args: &'static [&'static str]| {
        let mut cmd = common::tributary(&app.db);
        cmd.args(args);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        }
    };
    let (ok, text) = cli(&["verify", "--storage"]).await;
    assert!(ok, "{text}");
    assert!(text.contains("2 readable at their source"), "{text}");

    // VACUUM (zero retention) takes the files versions 0 and 1 had before version 2 overwrote
    // them; expiring every snapshot but the current takes the older snapshots.
    let (py, w, endpoint) = (python.clone(), work.clone(), moto.1.clone());
    tokio::task::spawn_blocking(move || script(&py, &["prune", &w, &endpoint]))
        .await
        .unwrap();
    let (srv, end) = (server.clone(), moto.1.clone());
    let expect = all.clone();
    let (ok, text) = tokio::task::spawn_blocking(move || gate(&srv, &end, &expect))
        .await
        .unwrap();
    eprintln!("{text}");
    assert!(!ok, "{text}");
    for table in [&delta, &s3] {
        for gone in &table[..2] {
            let l = line(&text, gone);
            assert!(l.starts_with("MISSING") && l.contains("VACUUM"), "{l}");
        }
        assert!(line(&text, &table[2]).starts_with("ok"), "{text}");
    }
    // An overwrite and VACUUM took the files only the checkpoint lists.
    for gone in &checkpointed {
        let l = line(&text, gone);
        assert!(l.starts_with("MISSING") && l.contains("VACUUM"), "{l}");
    }
    let mut expired_count = 0;
    for table in [&iceberg, &s3_iceberg] {
        let (current, expired) = table.split_last().unwrap();
        for gone in expired {
            let l = line(&text, gone);
            assert!(l.starts_with("MISSING") && l.contains("expired"), "{l}");
        }
        assert!(line(&text, current).starts_with("ok"), "{text}");
        expired_count += expired.len();
    }
    let misses = text.lines().filter(|l| l.starts_with("MISSING")).count();
    assert_eq!(misses, 6 + expired_count, "{text}");

    // verify --storage and retention's dry run name the versions depended on that went.
    let gone_tagged = format!("GONE     file:{delta_path}#0 (tagged 'v0')");
    let gone_read = format!("GONE     file:{delta_path}#1 (read by run 0191f7c2-aaaa-7000-8000-00000000beef, which wrote models:churn@prod)");
    let (ok, text) = cli(&["verify", "--storage"]).await;
    assert!(!ok, "{text}");
    assert!(
        text.contains(&gone_tagged) && text.contains(&gone_read),
        "{text}"
    );
    let (ok, text) = cli(&["retention", "--older-than", "36500d", "--dry-run"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&gone_tagged) && text.contains(&gone_read),
        "{text}"
    );

    // The dataset page asks the same over REST.
    let snapshot = |version: &str| {
        format!("/api/v1/namespaces/file/datasets/{encoded}/versions/{version}/snapshot")
    };
    let gone = app.get_json(&snapshot("v0")).await;
    assert_eq!(gone["state"], "gone", "{gone}");
    assert!(
        gone["detail"].as_str().unwrap().contains("VACUUM"),
        "{gone}"
    );
    assert_eq!(app.get_json(&snapshot("2")).await["state"], "present");
    let none = app
        .get_json("/api/v1/namespaces/models/datasets/churn/versions/prod/snapshot")
        .await;
    assert_eq!(none["state"], "none", "{none}");

    // And GraphQL, on any version.
    let g = app
        .graphql(
            "query($id: ID!) { dataset(id: $id) { versions { edges { node { producerVersion snapshot { state detail } } } } } }",
            json!({"id": format!("dataset:file:{delta_path}")}),
        )
        .await;
    let states: std::collections::BTreeMap<String, String> = g["data"]["dataset"]["versions"]
        ["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{g}"))
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["producerVersion"].as_str().unwrap().to_string(),
                n["snapshot"]["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("0", "gone"), ("1", "gone"), ("2", "present")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .into(),
        "{g}"
    );

    // A version the pipeline never wrote, and a dataset whose tool is unknown, fail too.
    let never = format!("file:{}#9", written["delta"]["name"].as_str().unwrap());
    let (srv, end) = (server.clone(), moto.1.clone());
    let (ok, text) = tokio::task::spawn_blocking(move || gate(&srv, &end, &[never]))
        .await
        .unwrap();
    assert!(!ok && text.contains("MISSING"), "{text}");
    drop(moto);
}
