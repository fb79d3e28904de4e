//! The `tributary` binary: import, rebuild, and durability when the process is killed.

mod common;

use std::io::Write;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{dataset, run_event, serve, tributary, Db, TestDb};
use serde_json::{json, Value};
use tributary::store::{SqlStore, Store};

fn event(i: usize) -> Value {
    run_event(
        "COMPLETE",
        "2024-03-01T00:00:00Z",
        &format!("0191f7c2-0000-7000-8000-{i:012}"),
        &format!("job{}", i % 11),
        json!([dataset("db", &format!("in{}", i % 13), &[("id", "int")])]),
        json!([dataset(
            "db",
            &format!("out{}", i % 17),
            &[("id", "int"), ("v", "text")]
        )]),
    )
}

async fn nothing_acknowledged_is_lost_when_the_server_is_killed(db: Db) {
    let Some(db) = TestDb::create(db).await else {
        return;
    };
    let (mut child, addr) = serve(&db);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let kill_after = 150;
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (acked, sent) = (acked.clone(), sent.clone());
        clients.push(tokio::spawn(async move {
            let Ok(mut conn) = tributary::cli::client::Connection::open(addr).await else {
                return;
            };
            loop {
                let i = sent.fetch_add(1, Ordering::SeqCst);
                if i > 5_000 {
                    return;
                }
                let body = event(i).to_string();
                match conn
                    .request(
                        "POST",
                        "/api/v1/lineage",
                        &[("Content-Type", "application/json")],
                        body.as_bytes(),
                    )
                    .await
                {
                    Ok(r) if r.status == 201 => acked.lock().unwrap().push(i),
                    Ok(r) => panic!(
                        "unexpected {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    ),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Kill the server in the middle of the stream, once enough has been acknowledged.
    while acked.lock().unwrap().len() < kill_after {
        tokio::task::yield_now().await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= kill_after);

    let store = SqlStore::connect(&db.url, 2).await.unwrap();
    let mut stored = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let rows = store.event_bodies(after, 1000).await.unwrap();
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (_, body) in rows {
            let v: Value = serde_json::from_slice(&body).unwrap();
            stored.insert(v["run"]["runId"].as_str().unwrap().to_string());
        }
    }
    for i in &acked {
        assert!(
            stored.contains(&format!("0191f7c2-0000-7000-8000-{i:012}")),
            "acknowledged event {i} was lost"
        );
    }
    // And the model agrees with the log after a restart.
    let (mut child, addr) = serve(&db);
    let r = tributary::cli::client::request(
        addr,
        "GET",
        "/api/v1/jobs/runs/0191f7c2-0000-7000-8000-000000000000",
        &[],
        b"",
    )
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    if acked.contains(&0) {
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["state"], "COMPLETED");
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

async fn import_reads_files_and_folders_and_reports_rejections(db: Db) {
    let Some(db) = TestDb::create(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nested");
    std::fs::create_dir(&nested).unwrap();
    std::fs::write(dir.path().join("one.json"), event(1).to_string()).unwrap();
    std::fs::write(
        dir.path().join("many.json"),
        json!([event(2), event(3)]).to_string(),
    )
    .unwrap();
    std::fs::write(
        nested.join("lines.ndjson"),
        format!("{}\n\n{}\n{{\"eventTime\": 1}}\n", event(4), event(5)),
    )
    .unwrap();
    std::fs::write(
        nested.join("zipped.ndjson.gz"),
        gz(format!("{}\n{}\n", event(6), event(1)).as_bytes()),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not events").unwrap();

    let out = tributary(&db)
        .arg("import")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("4 files: 6 events stored, 1 duplicates skipped, 1 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains("lines.ndjson:4") && stderr.contains("/eventTime"),
        "{stderr}"
    );

    // A clean import exits 0.
    let out = tributary(&db)
        .arg("import")
        .arg(dir.path().join("one.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 events stored, 1 duplicates skipped"));

    let missing = tributary(&db)
        .arg("import")
        .arg(dir.path().join("nope.json"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

async fn model_snapshot(store: &dyn Store) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..17 {
        let ds = store
            .dataset("db", &format!("out{i}"))
            .await
            .unwrap()
            .unwrap();
        for v in store.dataset_versions(&ds.id).await.unwrap() {
            out.push(json!([v.id, v.checksum, v.created_by_run, v.created_at]));
        }
        out.push(json!([ds.id, ds.current_version]));
    }
    for i in 0..11 {
        let job = store
            .job("tests", &format!("job{i}"))
            .await
            .unwrap()
            .unwrap();
        for v in store.job_versions(&job.id).await.unwrap() {
            out.push(json!([v.id, v.valid_from, v.inputs, v.outputs]));
        }
    }
    for i in 0..40 {
        let run = store
            .run(format!("0191f7c2-0000-7000-8000-{i:012}").parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        out.push(json!([
            run.uuid,
            run.state,
            run.started_at,
            run.ended_at,
            run.job_version_id,
            run.inputs
                .iter()
                .map(|i| i.version_id.clone())
                .collect::<Vec<_>>()
        ]));
    }
    out
}

async fn rebuild_gives_back_the_same_model(db: Db) {
    let Some(db) = TestDb::create(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..40).map(|i| event(i).to_string()).collect();
    std::fs::write(dir.path().join("events.ndjson"), lines.join("\n")).unwrap();
    assert!(tributary(&db)
        .arg("import")
        .arg(dir.path())
        .output()
        .unwrap()
        .status
        .success());
    let store = SqlStore::connect(&db.url, 2).await.unwrap();
    let before = model_snapshot(&store).await;
    let out = tributary(&db).arg("rebuild").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("from 40 events"));
    assert_eq!(model_snapshot(&store).await, before);
}

on_both_backends!(
    nothing_acknowledged_is_lost_when_the_server_is_killed,
    import_reads_files_and_folders_and_reports_rejections,
    rebuild_gives_back_the_same_model,
);
