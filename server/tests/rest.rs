//! The Marquez-compatible REST API, black-box, on SQLite and Postgres.

mod common;

use common::{dataset, run_event, Db, TestApp};
use serde_json::{json, Value};

const RUN_1: &str = "0191f7c2-0000-7000-8000-0000000000a1";
const RUN_2: &str = "0191f7c2-0000-7000-8000-0000000000a2";

async fn loaded(db: Db) -> Option<TestApp> {
    let app = TestApp::spawn(db).await?;
    let mut s3 = dataset(
        "s3://bucket",
        "raw/orders 2024.parquet",
        &[("id", "int"), ("email", "string")],
    );
    s3["facets"]["dataSource"] = json!({"name": "s3://bucket", "uri": "s3://bucket"});
    let mut first = run_event(
        "START",
        "2024-01-01T00:00:00Z",
        RUN_1,
        "ingest.orders",
        json!([s3.clone()]),
        json!([dataset(
            "warehouse",
            "orders",
            &[("id", "int"), ("email", "string")]
        )]),
    );
    first["job"]["facets"] =
        json!({"sourceCodeLocation": {"type": "git", "url": "https://git.example.com/etl"}});
    app.ingest(&first).await;
    let mut done = first.clone();
    done["eventType"] = json!("COMPLETE");
    done["eventTime"] = json!("2024-01-01T00:05:00Z");
    app.ingest(&done).await;
    app.ingest(&run_event(
        "FAIL",
        "2024-01-02T00:00:00Z",
        RUN_2,
        "report.daily",
        json!([{"namespace": "warehouse", "name": "orders"}]),
        json!([]),
    ))
    .await;
    Some(app)
}

async fn namespaces_sources_and_their_errors(db: Db) {
    let Some(app) = loaded(db).await else { return };
    let list = app.get_json("/api/v1/namespaces").await;
    let names: Vec<&str> = list["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s3://bucket", "tests", "warehouse"]);
    assert_eq!(list["totalCount"], 3);
    let put = app
        .request(
            "PUT",
            "/api/v1/namespaces/tests",
            &[("Content-Type", "application/json")],
            br#"{"ownerName": "data-team", "description": "test jobs"}"#,
        )
        .await;
    assert_eq!(put.status, 200);
    let ns = app.get_json("/api/v1/namespaces/tests").await;
    assert_eq!(
        (ns["ownerName"].as_str(), ns["description"].as_str()),
        (Some("data-team"), Some("test jobs"))
    );
    assert_eq!(app.get("/api/v1/namespaces/nope").await.status, 404);
    assert_eq!(
        app.get("/api/v1/namespaces/nope/datasets").await.status,
        404
    );
    let sources = app.get_json("/api/v1/sources").await;
    assert_eq!(sources["sources"][0]["name"], "s3://bucket");
    assert_eq!(sources["sources"][0]["type"], "S3");
    assert_eq!(
        app.get_json("/api/v1/sources/s3:%2F%2Fbucket").await["connectionUrl"],
        "s3://bucket"
    );
    assert_eq!(app.get("/api/v1/namespaces?limit=-1").await.status, 400);
    assert_eq!(app.get("/api/v1/namespaces?offset=x").await.status, 400);
}

async fn datasets_with_encoded_names_versions_and_tags(db: Db) {
    let Some(app) = loaded(db).await else { return };
    let path = "/api/v1/namespaces/s3:%2F%2Fbucket/datasets/raw%2Forders%202024.parquet";
    let ds = app.get_json(path).await;
    assert_eq!(
        ds["id"],
        json!({"namespace": "s3://bucket", "name": "raw/orders 2024.parquet"})
    );
    let list = app
        .get_json("/api/v1/namespaces/warehouse/datasets?limit=1")
        .await;
    assert_eq!(
        (
            list["totalCount"].as_i64(),
            list["datasets"].as_array().unwrap().len()
        ),
        (Some(1), 1)
    );

    let versions = app
        .get_json("/api/v1/namespaces/warehouse/datasets/orders/versions")
        .await;
    assert_eq!(
        versions["totalCount"], 1,
        "START and COMPLETE of one run write one version"
    );
    let v = versions["versions"][0]["version"]
        .as_str()
        .unwrap()
        .to_string();
    let one = app
        .get_json(&format!(
            "/api/v1/namespaces/warehouse/datasets/orders/versions/{v}"
        ))
        .await;
    assert_eq!(one["createdByRun"]["id"], RUN_1);
    assert_eq!(one["createdByRun"]["state"], "COMPLETED");
    assert_eq!(
        app.get("/api/v1/namespaces/warehouse/datasets/orders/versions/nope")
            .await
            .status,
        404
    );

    let r = app
        .request(
            "POST",
            "/api/v1/namespaces/warehouse/datasets/orders/tags/PII",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tags"], json!(["PII"]));
    let r = app
        .request(
            "POST",
            "/api/v1/namespaces/warehouse/datasets/orders/fields/email/tags/PII",
            &[],
            b"",
        )
        .await;
    let email = r.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "email")
        .unwrap()
        .clone();
    assert_eq!(email["tags"], json!(["PII"]));
    assert_eq!(
        app.request(
            "POST",
            "/api/v1/namespaces/warehouse/datasets/orders/fields/nope/tags/PII",
            &[],
            b""
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.request(
            "PUT",
            "/api/v1/tags/SENSITIVE",
            &[("Content-Type", "application/json")],
            br#"{"description": "handle with care"}"#
        )
        .await
        .status,
        200
    );
    let tags = app.get_json("/api/v1/tags").await;
    let names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PII", "SENSITIVE"]);
    let r = app
        .request(
            "DELETE",
            "/api/v1/namespaces/warehouse/datasets/orders/tags/PII",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.json()["tags"], json!([]));
}

async fn jobs_runs_and_their_states(db: Db) {
    let Some(app) = loaded(db).await else { return };
    let job = app
        .get_json("/api/v1/namespaces/tests/jobs/ingest.orders")
        .await;
    assert_eq!(
        job["inputs"],
        json!([{"namespace": "s3://bucket", "name": "raw/orders 2024.parquet"}])
    );
    assert_eq!(
        job["outputs"],
        json!([{"namespace": "warehouse", "name": "orders"}])
    );
    assert_eq!(job["latestRun"]["id"], RUN_1);
    // The latest run comes with what it read and wrote, each bound to the version it saw: the
    // input has none (nothing ever wrote it), the output the one the run made.
    for (io, name, versioned) in [
        ("inputDatasetVersions", "raw/orders 2024.parquet", false),
        ("outputDatasetVersions", "orders", true),
    ] {
        let versions = job["latestRun"][io].as_array().unwrap();
        assert_eq!(versions.len(), 1, "{job}");
        assert_eq!(versions[0]["datasetVersionId"]["name"], name);
        let version = &versions[0]["datasetVersionId"]["version"];
        assert_eq!(version.is_string(), versioned, "{job}");
    }
    assert_eq!(job["location"], "https://git.example.com/etl");
    assert_eq!(job["simpleName"], "orders");

    let failed = app.get_json("/api/v1/jobs?lastRunStates=FAILED").await;
    assert_eq!(failed["totalCount"], 1);
    assert_eq!(failed["jobs"][0]["name"], "report.daily");
    assert_eq!(app.get_json("/api/v1/jobs").await["totalCount"], 2);
    assert_eq!(
        app.get("/api/v1/jobs?lastRunStates=SLEEPING").await.status,
        400
    );

    let runs = app
        .get_json("/api/v1/namespaces/tests/jobs/ingest.orders/runs")
        .await;
    assert_eq!(runs["totalCount"], 1);
    assert_eq!(runs["runs"][0]["durationMs"], 300_000);
    let facets = app
        .get_json(&format!("/api/v1/jobs/runs/{RUN_1}/facets?type=job"))
        .await;
    assert_eq!(facets["facets"]["sourceCodeLocation"]["type"], "git");
    assert_eq!(
        app.get(&format!("/api/v1/jobs/runs/{RUN_1}/facets?type=dataset"))
            .await
            .status,
        400
    );

    let versions = app
        .get_json("/api/v1/namespaces/tests/jobs/ingest.orders/versions")
        .await;
    assert_eq!(versions["totalCount"], 1);
    let v = versions["versions"][0]["version"].as_str().unwrap();
    assert_eq!(
        app.get_json(&format!(
            "/api/v1/namespaces/tests/jobs/ingest.orders/versions/{v}"
        ))
        .await["version"],
        v
    );

    let r = app
        .request(
            "POST",
            "/api/v1/namespaces/tests/jobs/ingest.orders/tags/critical",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.json()["tags"], json!(["critical"]));
}

async fn soft_deleted_objects_leave_listings_until_named_again(db: Db) {
    let Some(app) = loaded(db).await else { return };
    let r = app
        .request(
            "DELETE",
            "/api/v1/namespaces/warehouse/datasets/orders",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["deleted"], true);
    assert_eq!(
        app.get("/api/v1/namespaces/warehouse/datasets/orders")
            .await
            .status,
        404
    );
    assert_eq!(
        app.get_json("/api/v1/namespaces/warehouse/datasets").await["totalCount"],
        0
    );
    assert_eq!(
        app.get_json("/api/v1/search?q=orders&filter=DATASET").await["totalCount"],
        1,
        "only the s3 file is left"
    );
    assert_eq!(
        app.request(
            "DELETE",
            "/api/v1/namespaces/tests/jobs/report.daily",
            &[],
            b""
        )
        .await
        .status,
        200
    );
    assert_eq!(app.get_json("/api/v1/jobs").await["totalCount"], 1);
    // History stays: the run that read the deleted dataset still names it.
    let run = app.get_json(&format!("/api/v1/jobs/runs/{RUN_2}")).await;
    assert_eq!(
        run["inputDatasetVersions"][0]["datasetVersionId"]["name"],
        "orders"
    );
    // A new event naming them brings them back.
    app.ingest(&run_event(
        "START",
        "2024-01-03T00:00:00Z",
        "0191f7c2-0000-7000-8000-0000000000a3",
        "report.daily",
        json!([{"namespace": "warehouse", "name": "orders"}]),
        json!([]),
    ))
    .await;
    assert_eq!(
        app.get("/api/v1/namespaces/warehouse/datasets/orders")
            .await
            .status,
        200
    );
    assert_eq!(app.get_json("/api/v1/jobs").await["totalCount"], 2);
}

async fn search_finds_datasets_and_jobs(db: Db) {
    let Some(app) = loaded(db).await else { return };
    let hits = app.get_json("/api/v1/search?q=ORDERS").await;
    let found: Vec<(String, String)> = hits["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["type"].as_str().unwrap().to_string(),
                h["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("JOB".to_string(), "ingest.orders".to_string()),
            ("DATASET".to_string(), "orders".to_string()),
            ("DATASET".to_string(), "raw/orders 2024.parquet".to_string()),
        ]
    );
    assert_eq!(hits["results"][1]["nodeId"], "dataset:warehouse:orders");
    let jobs = app.get_json("/api/v1/search?q=orders&filter=job").await;
    assert_eq!(jobs["totalCount"], 1);
    let ns = app
        .get_json("/api/v1/search?q=orders&namespace=warehouse")
        .await;
    assert_eq!(ns["totalCount"], 1);
    let limited = app
        .get_json("/api/v1/search?q=o&limit=1&sort=UPDATE_AT")
        .await;
    assert_eq!(limited["results"].as_array().unwrap().len(), 1);
    for bad in [
        "",
        "?q=",
        "?q=x&filter=table",
        "?q=x&sort=size",
        "?q=x&before=last-week",
    ] {
        assert_eq!(
            app.get(&format!("/api/v1/search{bad}")).await.status,
            400,
            "{bad}"
        );
    }
}

async fn legacy_writes_point_to_the_lineage_endpoint(db: Db) {
    let Some(app) = loaded(db).await else { return };
    for (method, path) in [
        ("PUT", "/api/v1/namespaces/warehouse/datasets/orders"),
        ("PUT", "/api/v1/namespaces/tests/jobs/x"),
        ("PUT", "/api/v1/sources/x"),
        ("POST", "/api/v1/namespaces/tests/jobs/x/runs"),
        ("POST", &format!("/api/v1/jobs/runs/{RUN_1}/complete")),
    ] {
        let r = app
            .request(method, path, &[("Content-Type", "application/json")], b"{}")
            .await;
        assert_eq!(r.status, 405, "{method} {path}");
        let body: Value = r.json();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("/api/v1/lineage"),
            "{body}"
        );
    }
}

async fn stats_count_events_by_type_and_objects_cumulatively(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let now = chrono::Utc::now().to_rfc3339();
    let ds = json!([{"namespace": "db", "name": "t"}]);
    app.ingest(&run_event("START", &now, RUN_1, "j", json!([]), ds.clone()))
        .await;
    app.ingest(&run_event("COMPLETE", &now, RUN_1, "j", json!([]), ds))
        .await;
    let day = app
        .get_json("/api/v1/stats/lineage-events?period=DAY&timezone=UTC")
        .await;
    let day = day.as_array().unwrap();
    assert_eq!(day.len(), 24);
    let last = &day[23];
    assert_eq!(
        (
            last["start"].as_i64(),
            last["complete"].as_i64(),
            last["fail"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let week = app
        .get_json("/api/v1/stats/jobs?period=WEEK&timezone=%2B02:00")
        .await;
    let week = week.as_array().unwrap();
    assert_eq!(week.len(), 7);
    assert_eq!(week[6]["count"], 1);
    assert_eq!(week[0]["count"], 0);
    assert_eq!(
        app.get_json("/api/v1/stats/datasets")
            .await
            .as_array()
            .unwrap()[23]["count"],
        1
    );
    assert_eq!(app.get("/api/v1/stats/jobs?period=YEAR").await.status, 400);
    assert_eq!(
        app.get("/api/v1/stats/jobs?timezone=Mars").await.status,
        400
    );
    assert_eq!(app.get("/api/v1/stats/widgets").await.status, 404);
}

/// A sample's value from Prometheus text, by its whole name with labels.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn metrics_are_prometheus_text_and_move_with_ingest(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let scrape = || async {
        let r = app.get("/metrics").await;
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        String::from_utf8(r.body).unwrap()
    };
    let stored = r#"tributary_events_ingested_total{result="stored"}"#;
    let rejected = r#"tributary_events_ingested_total{result="rejected"}"#;
    let before = scrape().await;
    for (i, job) in ["m1", "m2"].iter().enumerate() {
        app.ingest(&run_event(
            "COMPLETE",
            "2024-05-01T10:00:00Z",
            &format!("0191f7c2-0000-7000-8000-0000000005{i:02}"),
            job,
            json!([dataset("db", "m.in", &[])]),
            json!([dataset("db", &format!("m.out{i}"), &[])]),
        ))
        .await;
    }
    assert_eq!(app.post_event(&json!({"nope": true})).await.status, 400);
    // A lineage answer read from the store, then the same from memory.
    for _ in 0..2 {
        let r = app.get("/api/v1/lineage?nodeId=dataset:db:m.in").await;
        assert_eq!(r.status, 200);
    }
    let after = scrape().await;
    let (hit, miss) = (
        r#"tributary_node_data_lookups_total{result="hit"}"#,
        r#"tributary_node_data_lookups_total{result="miss"}"#,
    );
    assert!(
        sample(&after, miss) - sample(&before, miss) >= 5.0,
        "{after}"
    );
    assert!(sample(&after, hit) - sample(&before, hit) >= 5.0, "{after}");
    // (The gauges are the process's: another test's server may have set them last.)
    assert!(after.contains("tributary_node_data_cache_bytes"));
    // Other tests in this process ingest too: the counters move at least this much.
    assert!(
        sample(&after, stored) - sample(&before, stored) >= 2.0,
        "{after}"
    );
    assert!(sample(&after, rejected) - sample(&before, rejected) >= 1.0);
    assert!(sample(&after, "tributary_graph_nodes") >= 5.0);
    assert!(
        after.contains(r#"tributary_http_requests_total{route="/api/v1/lineage",status="201"}"#)
    );
    assert!(after.contains("tributary_ingest_commit_seconds_bucket"));
    assert_eq!(
        sample(&after, r#"tributary_db_connections_max{pool="write"}"#),
        4.0
    );
    assert!(sample(&after, r#"tributary_db_connections_max{pool="read"}"#) >= 1.0);
    // On Postgres the writer's batches have a pool of their own (native connections: one
    // batch's, the last one's releasing the writer's lock, one more while a cut one's successor
    // opens).
    if db == Db::Postgres {
        assert_eq!(
            sample(&after, r#"tributary_db_connections_max{pool="batches"}"#),
            3.0
        );
    }
    assert!(after.contains(r#"tributary_db_connections{pool="read",state="idle"}"#));
    // Every line is a comment or `name{labels} value`.
    for line in after
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(name.starts_with("tributary_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    assert!(!after.contains("<html"));
}

on_both_backends!(
    metrics_are_prometheus_text_and_move_with_ingest,
    stats_count_events_by_type_and_objects_cumulatively,
    namespaces_sources_and_their_errors,
    datasets_with_encoded_names_versions_and_tags,
    jobs_runs_and_their_states,
    soft_deleted_objects_leave_listings_until_named_again,
    search_finds_datasets_and_jobs,
    legacy_writes_point_to_the_lineage_endpoint,
);

#[test]
fn the_checked_in_openapi_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/openapi.json");
    let checked_in = std::fs::read_to_string(&path).unwrap();
    assert!(
        checked_in == tributary::http::openapi::document_text(),
        "schema/openapi.json has drifted from the code: run `cargo run -- export-schema`"
    );
}

async fn every_documented_operation_is_served(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let served = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(served, tributary::http::openapi::document());
    for (method, path) in tributary::http::openapi::operations() {
        let concrete = path.replace("{run}", RUN_1).replace(['{', '}'], "");
        let r = app.request(&method, &concrete, &[], b"").await;
        let body = r.json();
        assert!(
            !(r.status == 404 && body["message"] == "no such endpoint"),
            "{method} {path} is documented but not routed"
        );
        assert!(r.status < 500, "{method} {path}: {}", r.status);
    }
}

mod openapi {
    use super::*;
    on_both_backends!(every_documented_operation_is_served);
}
