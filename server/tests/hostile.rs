//! Hostile input: values the database cannot hold, bodies that are not what they claim, and
//! requests whose cost would be unbounded. Each gets a clear 4xx in the one error shape, fast,
//! the same on both backends; nothing gets a 5xx.

mod common;

use std::time::{Duration, Instant};

use common::{dataset, run_event, Db, TestApp};
use serde_json::{json, Value};
use tributary::ingest::limits::{MAX_DATASETS, MAX_NAME_BYTES};

const RUN: &str = "0191f7c2-0000-7000-8000-0000000000a1";

fn event_with_job(name: &str) -> Value {
    run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        RUN,
        name,
        json!([dataset("db", "raw.in", &[("id", "int")])]),
        json!([dataset("db", "clean.out", &[("id", "int")])]),
    )
}

fn paths(r: &common::Response) -> Vec<String> {
    r.json()["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["path"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn values_the_store_cannot_hold_are_refused_with_where(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let r = app.post_event(&event_with_job("a\u{0}b")).await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(paths(&r), ["/job/name"]);

    let mut e = event_with_job("fine");
    e["outputs"][0]["facets"]["schema"]["fields"][0]["description"] = json!("x\u{0}y");
    let r = app.post_event(&e).await;
    assert_eq!(r.status, 400);
    assert_eq!(paths(&r), ["/outputs/0/facets/schema/fields/0/description"]);

    let long = "n".repeat(MAX_NAME_BYTES + 1);
    let r = app.post_event(&event_with_job(&long)).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("limit"));
    // At the limit, on both backends, a namespace and a name fit the indexes.
    let longest = "n".repeat(MAX_NAME_BYTES);
    let mut e = run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        RUN,
        &longest,
        json!([{"namespace": longest, "name": longest}]),
        json!([]),
    );
    e["job"]["namespace"] = json!(longest);
    app.ingest(&e).await;

    let inputs: Vec<Value> = (0..=MAX_DATASETS)
        .map(|i| json!({"namespace": "db", "name": format!("t{i}")}))
        .collect();
    let mut e = event_with_job("wide");
    e["inputs"] = json!(inputs);
    let r = app.post_event(&e).await;
    assert_eq!(r.status, 400);
    assert_eq!(paths(&r), ["/inputs"]);

    // NUL in a URL's path or query: 400 wherever it is.
    for path in [
        "/api/v1/namespaces/a%00b",
        "/api/v1/namespaces/db/datasets/a%00b",
        "/api/v1/search?q=a%00b",
        "/api/v1/lineage?nodeId=dataset:db:a%00b",
        "/api/v1/jobs/runs/a%00b",
    ] {
        let r = app.get(path).await;
        assert_eq!(
            r.status,
            400,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["code"], 400);
    }
    let r = app
        .request(
            "PUT",
            &format!("/api/v1/tags/{}", "t".repeat(2000)),
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 400);
}

async fn a_batch_stores_its_good_events_and_lists_the_bad(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let good = event_with_job("good");
    let bad = event_with_job("bad\u{0}");
    let long = event_with_job(&"l".repeat(3000));
    let body = json!([good, bad, long]).to_string();
    let r = app
        .request("POST", "/api/v1/lineage/batch", &[], body.as_bytes())
        .await;
    assert_eq!(r.status, 207, "{}", String::from_utf8_lossy(&r.body));
    let a = r.json();
    assert_eq!(a["summary"]["successful"], 1);
    assert_eq!(a["summary"]["failed"], 2);
    assert_eq!(a["failed_events"][0]["index"], 1);
    assert_eq!(a["failed_events"][1]["index"], 2);
    assert_eq!(app.event_count().await, 1);
    assert_eq!(
        app.get("/api/v1/namespaces/tests/jobs/good").await.status,
        200
    );
}

async fn a_huge_batch_of_junk_gets_a_small_answer(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    // A million zeros: refused as a whole, in a few bytes.
    let zeros = format!("[{}0]", "0,".repeat(999_999));
    let r = app
        .request("POST", "/api/v1/lineage/batch", &[], zeros.as_bytes())
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.len() < 1_000, "{}", r.body.len());
    // Within the event limit, every failure is counted but only the first ones are listed.
    let zeros = format!("[{}0]", "0,".repeat(9_999));
    let r = app
        .request("POST", "/api/v1/lineage/batch", &[], zeros.as_bytes())
        .await;
    assert_eq!(r.status, 400);
    let a = r.json();
    assert_eq!(a["summary"]["failed"], 10_000);
    assert!(a["failed_events"].as_array().unwrap().len() <= 100);
    assert!(r.body.len() < 64 * 1024, "{}", r.body.len());
    // Not JSON at all, and JSON that is not an array.
    for body in [&b"[{"[..], b"{\"a\": 1}", b""] {
        let r = app
            .request("POST", "/api/v1/lineage/batch", &[], body)
            .await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
}

async fn malformed_bodies_on_writes_are_refused_not_ignored(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let r = app
        .request(
            "PUT",
            "/api/v1/tags/pii",
            &[],
            br#"{"description": "personal data"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    for body in [&b"{not json"[..], b"[1,2]", b"{\"description\": 7}"] {
        let r = app.request("PUT", "/api/v1/tags/pii", &[], body).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    let tags = app.get_json("/api/v1/tags").await;
    assert_eq!(tags["tags"][0]["description"], "personal data");

    let r = app
        .request("PUT", "/api/v1/namespaces/team", &[], b"{\"ownerName\": ")
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .request(
            "PUT",
            "/api/v1/namespaces/team",
            &[],
            br#"{"ownerName": "me", "description": "a\u0000b"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    // No body at all still works, as in Marquez.
    let r = app
        .request("PUT", "/api/v1/namespaces/team", &[], b"")
        .await;
    assert_eq!(r.status, 200);
}

/// Posts a GraphQL body; answers status and JSON, and how long it took.
async fn graphql_raw(app: &TestApp, body: &[u8]) -> (u16, Value, Duration) {
    let started = Instant::now();
    let r = app
        .request(
            "POST",
            "/api/v1/graphql",
            &[("Content-Type", "application/json")],
            body,
        )
        .await;
    (r.status, r.json(), started.elapsed())
}

async fn graphql_abuse_is_refused_within_a_second(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    app.ingest(&event_with_job("etl")).await;
    let code = |v: &Value| {
        v["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_string)
    };

    // 50 aliases of a whole-graph walk.
    let aliases: String = (0..50)
        .map(|i| format!("i{i}: impact(nodeId: \"dataset:db:raw.in\") {{ affected {{ path node {{ id }} }} }} "))
        .collect();
    let body = json!({"query": format!("{{ {aliases} }}")}).to_string();
    let (status, v, took) = graphql_raw(&app, body.as_bytes()).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(code(&v).as_deref(), Some("QUERY_TOO_COMPLEX"));
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Fragments doubling at each level: 2^40 fields if expanded.
    let mut q =
        String::from("query { ...F40 }\nfragment F0 on Query { namespaces { totalCount } }\n");
    for i in 1..=40 {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
            i - 1,
            i - 1
        ));
    }
    let body = json!({"query": q}).to_string();
    let (status, v, took) = graphql_raw(&app, body.as_bytes()).await;
    assert_eq!(status, 400, "{v}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Nesting deep enough to overflow a recursive parser.
    let deep = format!("{{{}{}}}", "a{".repeat(50_000), "}".repeat(50_000));
    let body = json!({"query": deep}).to_string();
    let (status, v, _) = graphql_raw(&app, body.as_bytes()).await;
    assert_eq!(status, 400, "{v}");

    // A body far past the limit.
    let big =
        json!({"query": format!("{{ namespaces {{ totalCount }} }} #{}", "x".repeat(300 * 1024))})
            .to_string();
    let (status, v, _) = graphql_raw(&app, big.as_bytes()).await;
    assert_eq!(status, 413, "{v}");

    // Not JSON; a NUL in a variable.
    let (status, _, _) = graphql_raw(&app, b"{query").await;
    assert_eq!(status, 400);
    let body = json!({"query": "query($q: String!) { search(query: $q) { totalCount } }", "variables": {"q": "a\u{0}"}}).to_string();
    let (status, v, _) = graphql_raw(&app, body.as_bytes()).await;
    assert_eq!(status, 400, "{v}");

    // An ordinary query still works.
    let v = app
        .graphql(
            "{ impact(nodeId: \"dataset:db:raw.in\") { affected { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["impact"]["affected"][0]["node"]["id"],
        "dataset:db:clean.out"
    );
}

async fn reads_past_the_concurrency_limit_wait_their_turn(db: Db) {
    let Some(app) = TestApp::spawn_with(db, |c| c.max_concurrent_reads = 1).await else {
        return;
    };
    app.ingest(&event_with_job("etl")).await;
    let app = std::sync::Arc::new(app);
    let reads: Vec<_> = (0..8)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let path = match i % 3 {
                    0 => "/api/v1/namespaces/tests/jobs/etl",
                    1 => "/api/v1/namespaces/db/datasets",
                    _ => "/api/v1/lineage?nodeId=job:tests:etl",
                };
                app.get(path).await.status
            })
        })
        .collect();
    for r in reads {
        assert_eq!(r.await.unwrap(), 200);
    }
    // Writes and health checks never wait for a read permit.
    assert_eq!(app.get("/healthz").await.status, 200);
    app.ingest(&event_with_job("etl2")).await;
}

on_both_backends!(
    reads_past_the_concurrency_limit_wait_their_turn,
    values_the_store_cannot_hold_are_refused_with_where,
    a_batch_stores_its_good_events_and_lists_the_bad,
    a_huge_batch_of_junk_gets_a_small_answer,
    malformed_bodies_on_writes_are_refused_not_ignored,
    graphql_abuse_is_refused_within_a_second,
);
