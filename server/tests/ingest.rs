//! Black-box ingest tests: what the server accepts, refuses, and makes of events, on SQLite and
//! on Postgres.

mod common;

use std::io::Write;

use common::{dataset, run_event, Db, TestApp};
use serde_json::{json, Value};
use tributary::ingest::ValidationMode;

const RUN_A: &str = "0191f7c2-0000-7000-8000-00000000000a";
const RUN_B: &str = "0191f7c2-0000-7000-8000-00000000000b";
const RUN_C: &str = "0191f7c2-0000-7000-8000-00000000000c";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn simple(event_type: &str, time: &str) -> Value {
    run_event(
        event_type,
        time,
        RUN_A,
        "etl",
        json!([dataset("db", "raw.orders", &[("id", "int")])]),
        json!([dataset(
            "db",
            "clean.orders",
            &[("id", "int"), ("amount", "decimal")]
        )]),
    )
}

/// The version a run created, from a `/versions` answer.
fn version_by_run(versions: &Value, run: &str) -> Value {
    versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["createdByRun"]["id"] == run)
        .unwrap()["version"]
        .clone()
}

/// Posts events to the batch endpoint.
async fn post_batch(app: &TestApp, batch: &Value) -> common::Response {
    app.request(
        "POST",
        "/api/v1/lineage/batch",
        &[],
        batch.to_string().as_bytes(),
    )
    .await
}

/// A run's answer without the fields that record when we happened to see it.
async fn run_view(app: &TestApp, run: &str) -> Value {
    let mut r = app.get_json(&format!("/api/v1/jobs/runs/{run}")).await;
    let o = r.as_object_mut().unwrap();
    o.remove("createdAt");
    o.remove("updatedAt");
    r
}

async fn every_corpus_event_is_accepted(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let Some(files) = common::corpus_files("valid") else {
        return;
    };
    let mut distinct = std::collections::HashSet::new();
    for f in &files {
        distinct.insert(tributary::model::canonical::hash(
            &serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap(),
        ));
        let body = std::fs::read(f).unwrap();
        let r = app.request("POST", "/api/v1/lineage", &[], &body).await;
        assert_eq!(
            r.status,
            201,
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            r.body.is_empty() || r.json().get("warnings").is_some(),
            "{}",
            f.display()
        );
    }
    // Some corpus files carry the same event; it is stored once.
    assert_eq!(app.event_count().await, distinct.len() as i64);
}

async fn invalid_corpus_events_are_flagged_by_default_and_refused_when_strict(db: Db) {
    let Some(lenient) = TestApp::spawn(db).await else {
        return;
    };
    let Some(strict) = TestApp::spawn_with(db, common::validation(ValidationMode::Strict)).await
    else {
        return;
    };
    let Some(invalid) = common::corpus_files("invalid") else {
        return;
    };
    for f in invalid {
        let body = std::fs::read(&f).unwrap();
        let core_violation = f.to_string_lossy().contains("no_run_id");
        let r = lenient.request("POST", "/api/v1/lineage", &[], &body).await;
        if core_violation {
            assert_eq!(r.status, 400, "{}", f.display());
            assert_eq!(r.json()["errors"][0]["path"], "/run");
        } else {
            assert_eq!(r.status, 201, "{}", f.display());
            let warnings = r.json()["warnings"].as_array().cloned().unwrap_or_default();
            assert!(!warnings.is_empty(), "{} gave no warning", f.display());
            assert!(
                warnings[0]["path"].as_str().unwrap().contains("acets/"),
                "{warnings:?}"
            );
        }
        let r = strict.request("POST", "/api/v1/lineage", &[], &body).await;
        assert_eq!(r.status, 400, "strict {}", f.display());
        assert!(r.json()["errors"][0]["path"].is_string());
    }
    assert_eq!(lenient.event_count().await, 5);
    assert_eq!(strict.event_count().await, 0);
}

async fn a_flagged_facet_is_kept_in_the_log_but_not_used(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let mut e = simple("COMPLETE", "2024-01-01T00:00:00Z");
    e["outputs"][0]["facets"]["ownership"] = json!({"owners": [{"no-name": "x"}]});
    e["outputs"][0]["facets"]["documentation"] = json!({"description": "cleaned orders"});
    let r = app.post_event(&e).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json()["warnings"][0]["path"],
        "/outputs/0/facets/ownership/owners/0"
    );
    let ds = app
        .get_json("/api/v1/namespaces/db/datasets/clean.orders")
        .await;
    assert!(ds["facets"].get("ownership").is_none(), "{ds}");
    assert_eq!(ds["description"], "cleaned orders");
    let log = app.get_json("/api/v1/events/lineage").await;
    assert_eq!(
        log["events"][0]["outputs"][0]["facets"]["ownership"]["owners"][0]["no-name"],
        "x"
    );
}

async fn bad_input_gets_a_clear_4xx_and_stores_nothing(db: Db) {
    let Some(app) = TestApp::spawn_with(db, |c| c.max_body_bytes = 64 * 1024).await else {
        return;
    };
    let deep = "[".repeat(200_000) + &"]".repeat(200_000);
    // (what, headers, body, expected status, a phrase the answer must contain)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("not json", vec![], b"hello".to_vec(), 400, "not valid JSON"),
        ("empty", vec![], Vec::new(), 400, "empty"),
        ("array", vec![], b"[{}]".to_vec(), 400, "/api/v1/lineage/batch"),
        ("bad utf-8", vec![], b"{\"eventTime\": \"\xff\xfe\"}".to_vec(), 400, "not valid JSON: invalid UTF-8 at byte offset 15"),
        ("bad gzip", vec![("Content-Encoding", "gzip")], b"not gzip at all".to_vec(), 400, "gzip"),
        ("unknown encoding", vec![("Content-Encoding", "br")], b"{}".to_vec(), 400, "Content-Encoding"),
        ("wrong types", vec![], br#"{"eventTime": 5, "producer": [], "run": {"runId": 7}, "job": {"namespace": "n", "name": "j"}}"#.to_vec(), 400, "/eventTime"),
        ("bad time", vec![], simple("START", "next tuesday").to_string().into_bytes(), 400, "/eventTime"),
        ("bad eventType", vec![], simple("BEGIN", "2024-01-01T00:00:00Z").to_string().into_bytes(), 400, "/eventType"),
        ("deep nesting", vec![], deep.into_bytes(), 413, "limit"),
        ("deep nesting, small", vec![], ("[".repeat(5_000) + &"]".repeat(5_000)).into_bytes(), 400, "recursion"),
        ("too large", vec![], vec![b' '; 70 * 1024], 413, "limit"),
        ("gzip bomb", vec![("Content-Encoding", "gzip")], gzip(&vec![b' '; 10 * 1024 * 1024]), 413, "limit"),
    ];
    for (what, headers, body, status, needle) in cases {
        let r = app
            .request("POST", "/api/v1/lineage", &headers, &body)
            .await;
        assert_eq!(
            r.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let text = String::from_utf8_lossy(&r.body).to_string();
        assert!(text.contains(needle), "{what}: {text}");
        assert_eq!(r.json()["code"], status, "{what}");
    }
    assert_eq!(app.event_count().await, 0);
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
}

async fn gzip_bodies_are_decoded(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let body = gzip(
        simple("START", "2024-01-01T00:00:00Z")
            .to_string()
            .as_bytes(),
    );
    let r = app
        .request(
            "POST",
            "/api/v1/lineage",
            &[("Content-Encoding", "gzip")],
            &body,
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(app.event_count().await, 1);
}

async fn a_batch_stores_its_good_events_and_names_the_bad_ones(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let batch = json!([
        simple("START", "2024-01-01T00:00:00Z"),
        {"eventTime": "2024-01-01T00:00:00Z"},
        simple("COMPLETE", "2024-01-01T00:10:00Z"),
    ]);
    let r = post_batch(&app, &batch).await;
    assert_eq!(r.status, 207);
    let a = r.json();
    assert_eq!(a["status"], "PARTIAL_SUCCESS");
    assert_eq!(
        a["summary"],
        json!({"received": 3, "successful": 2, "failed": 1})
    );
    assert_eq!(a["failed_events"][0]["index"], 1);
    assert!(a["failed_events"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("producer"));
    assert_eq!(app.event_count().await, 2);
    assert_eq!(run_view(&app, RUN_A).await["state"], "COMPLETED");

    let r = app
        .request("POST", "/api/v1/lineage/batch", &[], b"{}")
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .request("POST", "/api/v1/lineage/batch", &[], b"[{\"a\": \"\xc3\"}]")
        .await;
    assert_eq!(r.status, 400);
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("invalid UTF-8 at byte offset 8"), "{text}");
    let all_good = json!([simple("RUNNING", "2024-01-01T00:05:00Z")]);
    let r = post_batch(&app, &all_good).await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("SUCCESS"))
    );
}

async fn resending_an_event_changes_nothing(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let e = simple("START", "2024-01-01T00:00:00Z");
    app.ingest(&e).await;
    let before = run_view(&app, RUN_A).await;
    app.ingest(&e).await;
    // The same event, formatted differently.
    let pretty = serde_json::to_vec_pretty(&e).unwrap();
    assert_eq!(
        app.request("POST", "/api/v1/lineage", &[], &pretty)
            .await
            .status,
        201
    );
    assert_eq!(app.event_count().await, 1);
    assert_eq!(run_view(&app, RUN_A).await, before);
}

async fn out_of_order_events_give_the_in_order_state(db: Db) {
    let events = vec![
        simple("START", "2024-01-01T00:00:00Z"),
        simple("RUNNING", "2024-01-01T00:05:00Z"),
        simple("FAIL", "2024-01-01T00:10:00Z"),
    ];
    let Some(in_order) = TestApp::spawn(db).await else {
        return;
    };
    let Some(shuffled) = TestApp::spawn(db).await else {
        return;
    };
    for e in &events {
        in_order.ingest(e).await;
    }
    // FAIL first, then RUNNING after the FAIL, then START.
    for e in events.iter().rev() {
        shuffled.ingest(e).await;
    }
    let a = run_view(&in_order, RUN_A).await;
    assert_eq!(a, run_view(&shuffled, RUN_A).await);
    assert_eq!(a["state"], "FAILED");
    assert_eq!(a["startedAt"], "2024-01-01T00:00:00.000Z");
    assert_eq!(a["endedAt"], "2024-01-01T00:10:00.000Z");
    assert_eq!(a["durationMs"], 600_000);
    let va = in_order
        .get_json("/api/v1/namespaces/db/datasets/clean.orders/versions")
        .await;
    let vb = shuffled
        .get_json("/api/v1/namespaces/db/datasets/clean.orders/versions")
        .await;
    assert_eq!(va["versions"][0]["version"], vb["versions"][0]["version"]);
    assert_eq!(va["versions"][0]["checksum"], vb["versions"][0]["checksum"]);
}

/// A table read again later with the same schema keeps the later time, though its facets are
/// not rewritten (only their times are): an event from in between with another schema, arriving
/// last, must still lose, as it does when the events come in order.
async fn a_facet_seen_again_later_still_beats_an_older_change(db: Db) {
    let read = |run: &str, time: &str, ty: &str| {
        run_event(
            "COMPLETE",
            time,
            run,
            "reader",
            json!([dataset("db", "raw.events", &[("id", ty)])]),
            json!([]),
        )
    };
    let first = read(RUN_A, "2024-01-01T00:00:00Z", "int");
    let between = read(RUN_B, "2024-01-02T00:00:00Z", "text");
    let again = read(RUN_C, "2024-01-03T00:00:00Z", "int");
    let Some(in_order) = TestApp::spawn(db).await else {
        return;
    };
    let Some(late) = TestApp::spawn(db).await else {
        return;
    };
    for e in [&first, &between, &again] {
        in_order.ingest(e).await;
    }
    // One request each: every one meets the stored row the one before left.
    for e in [&first, &again, &between] {
        late.ingest(e).await;
    }
    let path = "/api/v1/namespaces/db/datasets/raw.events";
    let (a, b) = (in_order.get_json(path).await, late.get_json(path).await);
    assert_eq!(a["fields"][0]["type"], "int", "{a}");
    assert_eq!(b["fields"], a["fields"], "{b}");
    assert_eq!(b["facets"], a["facets"]);
}

async fn the_same_events_give_the_same_ids_in_an_empty_store(db: Db) {
    let events = vec![
        simple("START", "2024-01-01T00:00:00Z"),
        simple("COMPLETE", "2024-01-01T00:10:00Z"),
        run_event(
            "COMPLETE",
            "2024-01-02T00:00:00Z",
            "scheduled__2024-01-02",
            "report",
            json!([{"namespace": "db", "name": "clean.orders"}]),
            json!([dataset("db", "report", &[("n", "int")])]),
        ),
    ];
    let mut seen = Vec::new();
    for _ in 0..2 {
        let Some(app) = TestApp::spawn(db).await else {
            return;
        };
        for e in &events {
            app.ingest(e).await;
        }
        let versions = app
            .get_json("/api/v1/namespaces/db/datasets/clean.orders/versions")
            .await;
        let job = app.get_json("/api/v1/namespaces/tests/jobs/report").await;
        let runs = app.get_json("/api/v1/events/lineage?limit=1").await;
        let report_run = tributary::model::ids::run_uuid("scheduled__2024-01-02");
        let run = run_view(&app, &report_run.to_string()).await;
        seen.push((
            versions["versions"].clone(),
            job["currentVersion"].clone(),
            run,
            runs["totalCount"].clone(),
        ));
    }
    assert_eq!(seen[0].0.as_array().unwrap().len(), 1);
    let strip = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| (x["version"].clone(), x["checksum"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&seen[0].0), strip(&seen[1].0));
    assert_eq!(seen[0].1, seen[1].1);
    assert_eq!(seen[0].2, seen[1].2);
    // The non-UUID runId mapped to a stable UUID and is still reported as sent.
    assert_eq!(seen[0].2["runId"], "scheduled__2024-01-02");
}

async fn an_input_binds_to_the_version_current_at_the_runs_time(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let write = |run: &str, time: &str, fields: &[(&str, &str)]| {
        run_event(
            "COMPLETE",
            time,
            run,
            "writer",
            json!([]),
            json!([dataset("db", "features", fields)]),
        )
    };
    let v1_event = write(RUN_A, "2024-01-01T00:00:00Z", &[("a", "int")]);
    let v2_event = write(RUN_B, "2024-01-03T00:00:00Z", &[("a", "int"), ("b", "int")]);
    let read = run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        RUN_C,
        "train",
        json!([{"namespace": "db", "name": "features"}]),
        json!([{"namespace": "models", "name": "churn"}]),
    );
    // The later version and the reader arrive before the earlier version.
    app.ingest(&v2_event).await;
    app.ingest(&read).await;
    app.ingest(&v1_event).await;
    let versions = app
        .get_json("/api/v1/namespaces/db/datasets/features/versions")
        .await;
    let (v1, v2) = (
        version_by_run(&versions, RUN_A),
        version_by_run(&versions, RUN_B),
    );
    let train = run_view(&app, RUN_C).await;
    assert_eq!(
        train["inputDatasetVersions"][0]["datasetVersionId"]["version"],
        v1
    );
    let ds = app
        .get_json("/api/v1/namespaces/db/datasets/features")
        .await;
    assert_eq!(ds["currentVersion"], v2);
    assert_eq!(ds["fields"].as_array().unwrap().len(), 2);
}

/// A late START moves run A's version of `features` back before run B's: B's becomes current,
/// as if the events had come in order, though each event is its own commit.
async fn a_late_event_moves_the_current_version_as_in_order(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let write = |event_type: &str, run: &str, time: &str| {
        run_event(
            event_type,
            time,
            run,
            "writer",
            json!([]),
            json!([dataset("db", "features", &[("a", "int")])]),
        )
    };
    let current = || async {
        app.get_json("/api/v1/namespaces/db/datasets/features")
            .await["currentVersion"]
            .clone()
    };
    app.ingest(&write("COMPLETE", RUN_B, "2024-01-05T00:00:00Z"))
        .await;
    app.ingest(&write("COMPLETE", RUN_A, "2024-01-09T00:00:00Z"))
        .await;
    let versions = app
        .get_json("/api/v1/namespaces/db/datasets/features/versions")
        .await;
    let (a, b) = (
        version_by_run(&versions, RUN_A),
        version_by_run(&versions, RUN_B),
    );
    assert_eq!(current().await, a, "A's version is the newer one so far");
    // A started on the 1st: its version dates from then, before B's.
    app.ingest(&write("START", RUN_A, "2024-01-01T00:00:00Z"))
        .await;
    assert_eq!(current().await, b);
    // A later run that only reads a named version of it does not take its place.
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-20T00:00:00Z",
        RUN_C,
        "reader",
        json!([{"namespace": "db", "name": "features",
                "facets": {"version": {"_producer": "p", "_schemaURL": "s", "datasetVersion": "v7"}}}]),
        json!([]),
    ))
    .await;
    assert_eq!(current().await, b);
}

async fn a_producer_supplied_version_is_honoured(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let mut out = dataset("s3://lake", "events", &[("id", "string")]);
    out["facets"]["version"] = json!({"datasetVersion": "42"});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        RUN_A,
        "delta-writer",
        json!([]),
        json!([out]),
    ))
    .await;
    let input = json!({"namespace": "s3://lake", "name": "events", "facets": {"version": {"datasetVersion": "42"}}});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-02-01T00:00:00Z",
        RUN_B,
        "reader",
        json!([input]),
        json!([]),
    ))
    .await;
    let versions = app
        .get_json("/api/v1/namespaces/s3:%2F%2Flake/datasets/events/versions")
        .await;
    assert_eq!(versions["totalCount"], 1);
    let v = &versions["versions"][0];
    assert_eq!(v["producerVersion"], "42");
    assert_eq!(v["createdByRun"]["id"], RUN_A);
    let reader = run_view(&app, RUN_B).await;
    assert_eq!(
        reader["inputDatasetVersions"][0]["datasetVersionId"]["version"],
        v["version"]
    );
}

async fn job_and_dataset_events_update_without_a_run(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let job_event = json!({
        "eventTime": "2024-01-01T00:00:00Z", "producer": "p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "tests", "name": "nightly", "facets": {"sql": {"query": "INSERT INTO b SELECT * FROM a"}}},
        "inputs": [{"namespace": "db", "name": "a"}], "outputs": [{"namespace": "db", "name": "b"}]
    });
    app.ingest(&job_event).await;
    let versions = app
        .get_json("/api/v1/namespaces/tests/jobs/nightly/versions")
        .await;
    assert_eq!(versions["totalCount"], 1);
    let v = &versions["versions"][0];
    assert_eq!(v["sql"], "INSERT INTO b SELECT * FROM a");
    assert_eq!(v["inputs"], json!([{"namespace": "db", "name": "a"}]));
    assert_eq!(v["outputs"], json!([{"namespace": "db", "name": "b"}]));
    let job = app.get_json("/api/v1/namespaces/tests/jobs/nightly").await;
    assert_eq!(job["currentVersion"], v["version"]);
    assert_eq!(job["inputs"], json!([{"namespace": "db", "name": "a"}]));
    assert!(job["latestRun"].is_null());

    let ds_event = |time: &str, facets: Value| {
        json!({
            "eventTime": time, "producer": "p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": {"namespace": "db", "name": "b", "facets": facets}
        })
    };
    app.ingest(&ds_event(
        "2024-01-02T00:00:00Z",
        json!({"documentation": {"description": "table b"},
        "ownership": {"owners": [{"name": "team:data"}]}}),
    ))
    .await;
    let ds = app.get_json("/api/v1/namespaces/db/datasets/b").await;
    assert_eq!(ds["description"], "table b");
    assert_eq!(ds["facets"]["ownership"]["owners"][0]["name"], "team:data");
    // `_deleted` removes a facet; an older event does not bring it back.
    app.ingest(&ds_event(
        "2024-01-03T00:00:00Z",
        json!({"ownership": {"_deleted": true}}),
    ))
    .await;
    app.ingest(&ds_event(
        "2024-01-01T12:00:00Z",
        json!({"ownership": {"owners": [{"name": "old"}]}}),
    ))
    .await;
    let ds = app.get_json("/api/v1/namespaces/db/datasets/b").await;
    assert!(ds["facets"].get("ownership").is_none(), "{ds}");
    assert_eq!(ds["description"], "table b");
}

async fn parents_link_runs_and_jobs(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let mut task = simple("START", "2024-01-01T00:00:00Z");
    task["run"]["facets"] = json!({"parent": {"run": {"runId": RUN_B}, "job": {"namespace": "airflow", "name": "daily_dag"}}});
    app.ingest(&task).await;
    let run = run_view(&app, RUN_A).await;
    assert_eq!(run["parentRunId"], RUN_B);
    let job = app.get_json("/api/v1/namespaces/tests/jobs/etl").await;
    let dag = app
        .get_json("/api/v1/namespaces/airflow/jobs/daily_dag")
        .await;
    assert!(dag["id"]["name"] == "daily_dag");
    assert!(job["parentJobUuid"].is_string());
}

async fn symlinks_join_naming_schemes(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let mut path = dataset("s3://warehouse", "/orders", &[("id", "int")]);
    path["facets"]["symlinks"] = json!({"identifiers": [{"namespace": "hive://metastore", "name": "sales.orders", "type": "TABLE"}]});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        RUN_A,
        "spark-writer",
        json!([]),
        json!([path]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        RUN_B,
        "hive-reader",
        json!([{"namespace": "hive://metastore", "name": "sales.orders"}]),
        json!([]),
    ))
    .await;
    let by_path = app
        .get_json("/api/v1/namespaces/s3:%2F%2Fwarehouse/datasets/%2Forders")
        .await;
    let by_table = app
        .get_json("/api/v1/namespaces/hive:%2F%2Fmetastore/datasets/sales.orders")
        .await;
    assert_eq!(by_path["currentVersion"], by_table["currentVersion"]);
    let reader = run_view(&app, RUN_B).await;
    assert_eq!(
        reader["inputDatasetVersions"][0]["datasetVersionId"]["version"],
        by_path["currentVersion"]
    );
}

/// A batch whose events are partly stored already: the writer normalized the whole batch before
/// its transaction, then learns which events are new and normalizes those again.
async fn a_batch_of_stored_and_new_events_models_the_new_ones(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let writer = run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        RUN_A,
        "writer",
        json!([]),
        json!([dataset("db", "orders", &[("id", "int")])]),
    );
    app.ingest(&writer).await;
    let reader = run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        RUN_B,
        "reader",
        json!([{"namespace": "db", "name": "orders"}]),
        json!([dataset("db", "report", &[("n", "int")])]),
    );
    let batch = json!([writer, reader]);
    let r = post_batch(&app, &batch).await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("SUCCESS"))
    );
    assert_eq!(app.event_count().await, 2);
    let orders = app.get_json("/api/v1/namespaces/db/datasets/orders").await;
    let read = run_view(&app, RUN_B).await;
    assert_eq!(read["state"], "COMPLETED");
    assert_eq!(
        read["inputDatasetVersions"][0]["datasetVersionId"]["version"],
        orders["currentVersion"]
    );
    assert_eq!(run_view(&app, RUN_A).await["state"], "COMPLETED");
    let report = app.get_json("/api/v1/namespaces/db/datasets/report").await;
    assert_eq!(report["fields"][0]["name"], "n");
}

async fn the_event_log_pages_like_marquez(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    for (i, t) in [
        "2024-01-01T00:00:00Z",
        "2024-01-02T00:00:00Z",
        "2024-01-03T00:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let mut e = simple(if i == 0 { "START" } else { "RUNNING" }, t);
        e["run"]["runId"] = json!(format!("0191f7c2-0000-7000-8000-00000000010{i}"));
        app.ingest(&e).await;
    }
    let all = app.get_json("/api/v1/events/lineage").await;
    assert_eq!(all["totalCount"], 3);
    assert_eq!(all["events"][0]["eventTime"], "2024-01-03T00:00:00Z");
    let asc = app
        .get_json("/api/v1/events/lineage?sortDirection=asc&limit=1&offset=1")
        .await;
    assert_eq!(asc["events"].as_array().unwrap().len(), 1);
    assert_eq!(asc["events"][0]["eventTime"], "2024-01-02T00:00:00Z");
    let window = app
        .get_json("/api/v1/events/lineage?after=2024-01-01T12:00:00Z&before=2024-01-02T12:00:00Z")
        .await;
    assert_eq!(window["totalCount"], 1);
    for bad in [
        "limit=-1",
        "offset=-3",
        "sortDirection=sideways",
        "before=yesterday",
        "limit=ten",
    ] {
        let r = app.get(&format!("/api/v1/events/lineage?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["errors"][0]["detail"].is_string(), "{bad}");
    }
}

async fn unknown_things_are_404(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    assert_eq!(app.get("/api/v1/namespaces/x/datasets/y").await.status, 404);
    assert_eq!(
        app.get("/api/v1/jobs/runs/0191f7c2-0000-7000-8000-0000000000ff")
            .await
            .status,
        404
    );
    assert_eq!(app.get("/api/v1/jobs/runs/not-a-uuid").await.status, 400);
    assert_eq!(app.get("/api/v1/nothing-here").await.status, 404);
}

async fn concurrent_requests_are_all_committed(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let run = format!("0191f7c2-0000-7000-8000-{i:012}");
            let e = run_event(
                "COMPLETE",
                "2024-01-01T00:00:00Z",
                &run,
                &format!("job{}", i % 7),
                json!([{"namespace": "db", "name": format!("in{}", i % 5)}]),
                json!([{"namespace": "db", "name": format!("out{}", i % 3)}]),
            );
            app.post_event(&e).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    assert_eq!(app.event_count().await, 200);
    let versions = app
        .get_json("/api/v1/namespaces/db/datasets/out0/versions")
        .await;
    assert_eq!(versions["totalCount"], 67);
}

/// Text that means something inside a SQL string literal (the writer writes a batch's values into
/// its statements as literals) or an array literal is stored exactly as sent.
async fn awkward_text_is_stored_exactly(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let awkward = [
        "NULL",
        "",
        "{a,b}",
        "say \"hi\", ok",
        "back\\slash\\\"",
        "\\x00ff",
        "it's; DROP TABLE runs; --",
        " spaced ",
        "naïve ✓ 表",
    ];
    for (i, text) in awkward.iter().enumerate() {
        let run = format!("0191f7c2-0000-7000-8000-0000000001{i:02}");
        let mut e = run_event(
            "COMPLETE",
            "2024-01-01T00:00:00Z",
            &run,
            &format!("job {text}"),
            json!([dataset("db", &format!("in {text}"), &[(text, "string")])]),
            json!([dataset("db", &format!("out {text}"), &[("id", text)])]),
        );
        e["outputs"][0]["facets"]["documentation"] = json!({"description": text});
        e["job"]["facets"]["documentation"] = json!({"description": text});
        assert_eq!(app.post_event(&e).await.status, 201, "{text:?}");
    }
    let datasets = app
        .get_json("/api/v1/namespaces/db/datasets?limit=100")
        .await;
    let datasets = datasets["datasets"].as_array().unwrap();
    let jobs = app
        .get_json("/api/v1/namespaces/tests/jobs?limit=100")
        .await;
    let jobs = jobs["jobs"].as_array().unwrap();
    for text in awkward {
        let named = |list: &[Value], name: String| {
            list.iter()
                .find(|d| d["name"] == name.as_str())
                .unwrap_or_else(|| panic!("{name:?} missing"))
                .clone()
        };
        let input = named(datasets, format!("in {text}"));
        assert_eq!(input["fields"][0]["name"], text);
        let output = named(datasets, format!("out {text}"));
        assert_eq!(output["fields"][0]["type"], text);
        assert_eq!(output["description"], text);
        let job = named(jobs, format!("job {text}"));
        assert_eq!(job["description"], text, "{job}");
    }
}

/// Migration 0010 moved a run's inputs and outputs from rows of their own (`run_io`) into the
/// run's row. A store of the old layout — made here from one of the new by the inverse
/// statements — gives the same runs once migrated, and its runs take further events.
async fn runs_keep_their_inputs_and_outputs_across_the_run_io_migration(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let raw = || json!([dataset("db", "raw.orders", &[("id", "int")])]);
    let clean = || json!([dataset("db", "clean.orders", &[("id", "int")])]);
    // B writes raw.orders twice; A reads it between the two and writes clean.orders, with an
    // output facet.
    app.ingest(&run_event(
        "COMPLETE",
        "2024-06-01T10:00:00Z",
        RUN_B,
        "load",
        json!([]),
        raw(),
    ))
    .await;
    let mut a = run_event(
        "START",
        "2024-06-01T11:00:00Z",
        RUN_A,
        "etl",
        raw(),
        clean(),
    );
    a["outputs"][0]["outputFacets"] = json!({"outputStatistics": {
        "_producer": "https://example.com/tests",
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json",
        "rowCount": 7}});
    app.ingest(&a).await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-06-01T12:00:00Z",
        RUN_C,
        "load",
        json!([]),
        raw(),
    ))
    .await;
    let before = [run_view(&app, RUN_A).await, run_view(&app, RUN_B).await];
    assert_eq!(
        before[0]["inputDatasetVersions"].as_array().unwrap().len(),
        1,
        "{}",
        before[0]
    );

    let pool = common::pool(&app.db).await;
    let postgres = app.db.url.starts_with("postgres");
    let back = if postgres {
        "INSERT INTO run_io SELECT r.uuid, e->>'dir', e->>'dataset', e->>'version', \
         (e->>'bind_time')::bigint, (e->'facets')::text FROM runs r, jsonb_array_elements(r.io::jsonb) e"
    } else {
        "INSERT INTO run_io SELECT r.uuid, json_extract(e.value, '$.dir'), \
         json_extract(e.value, '$.dataset'), json_extract(e.value, '$.version'), \
         json_extract(e.value, '$.bind_time'), json(json_extract(e.value, '$.facets')) \
         FROM runs r, json_each(r.io) e"
    };
    for sql in [
        "CREATE TABLE run_io (run_uuid TEXT NOT NULL, direction TEXT NOT NULL, \
         dataset_id TEXT NOT NULL, version_id TEXT, bind_time BIGINT NOT NULL, facets TEXT NOT NULL, \
         PRIMARY KEY (run_uuid, direction, dataset_id))",
        back,
        "ALTER TABLE runs DROP COLUMN io",
        "DELETE FROM _sqlx_migrations WHERE version = 10",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_io")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 4, "A's input and output, B's and C's outputs");

    // A server of this version migrates the store as it starts.
    let migrated = TestApp::start(common::TestDb::borrowed(&app.db.url), |_| {}).await;
    let after = [
        run_view(&migrated, RUN_A).await,
        run_view(&migrated, RUN_B).await,
    ];
    assert_eq!(after, before);
    let done = run_event(
        "COMPLETE",
        "2024-06-01T11:30:00Z",
        RUN_A,
        "etl",
        json!([dataset("db", "raw.customers", &[("id", "int")])]),
        json!([]),
    );
    migrated.ingest(&done).await;
    let a = run_view(&migrated, RUN_A).await;
    let inputs: Vec<&str> = a["inputDatasetVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["datasetVersionId"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["raw.customers", "raw.orders"], "{a}");
    assert_eq!(
        a["inputDatasetVersions"][1], before[0]["inputDatasetVersions"][0],
        "the migrated input keeps its version"
    );
    assert_eq!(
        a["outputDatasetVersions"],
        before[0]["outputDatasetVersions"]
    );
}

on_both_backends!(
    every_corpus_event_is_accepted,
    invalid_corpus_events_are_flagged_by_default_and_refused_when_strict,
    a_flagged_facet_is_kept_in_the_log_but_not_used,
    bad_input_gets_a_clear_4xx_and_stores_nothing,
    gzip_bodies_are_decoded,
    a_batch_stores_its_good_events_and_names_the_bad_ones,
    resending_an_event_changes_nothing,
    out_of_order_events_give_the_in_order_state,
    a_facet_seen_again_later_still_beats_an_older_change,
    the_same_events_give_the_same_ids_in_an_empty_store,
    an_input_binds_to_the_version_current_at_the_runs_time,
    a_late_event_moves_the_current_version_as_in_order,
    a_producer_supplied_version_is_honoured,
    job_and_dataset_events_update_without_a_run,
    parents_link_runs_and_jobs,
    symlinks_join_naming_schemes,
    a_batch_of_stored_and_new_events_models_the_new_ones,
    the_event_log_pages_like_marquez,
    unknown_things_are_404,
    concurrent_requests_are_all_committed,
    awkward_text_is_stored_exactly,
    runs_keep_their_inputs_and_outputs_across_the_run_io_migration,
);
