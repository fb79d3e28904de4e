//! The GraphQL contract, black-box, on SQLite and Postgres.

mod common;

use common::{run_event, Db, TestApp};
use serde_json::{json, Value};

const IMPACT: &str = "query($id: ID!, $asOf: DateTime, $types: [String!]) {
  impact(nodeId: $id, asOf: $asOf, datasetTypes: $types) { truncated affected { distance path node { id kind name datasetType } } }
}";

fn affected_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["data"]["impact"]["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["node"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn which_models_break_changes_when_a_model_is_retrained(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let model = |name: &str| json!({"namespace": "models", "name": name, "facets": {"datasetType": {"datasetType": "MODEL"}}});
    let ds = |name: &str| json!({"namespace": "wh", "name": name});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000c01",
        "clean",
        json!([ds("orders_raw")]),
        json!([ds("orders")]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000c02",
        "train_churn",
        json!([ds("orders")]),
        json!([model("churn")]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000c03",
        "train_ltv",
        json!([ds("orders")]),
        json!([model("ltv")]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-03T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000c04",
        "dashboard",
        json!([ds("orders")]),
        json!([ds("orders_dashboard")]),
    ))
    .await;

    let before = app
        .graphql(
            IMPACT,
            json!({"id": "dataset:wh:orders_raw", "types": ["MODEL"]}),
        )
        .await;
    assert_eq!(
        affected_ids(&before),
        ["dataset:models:churn", "dataset:models:ltv"]
    );
    let churn = &before["data"]["impact"]["affected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["node"]["name"] == "churn")
        .unwrap()
        .clone();
    assert_eq!(churn["distance"], 2);
    assert_eq!(
        churn["path"],
        json!([
            "dataset:wh:orders_raw",
            "job:tests:clean",
            "dataset:wh:orders",
            "job:tests:train_churn",
            "dataset:models:churn"
        ])
    );
    assert_eq!(churn["node"]["kind"], "DATASET");

    // churn is retrained from other data: orders_raw no longer breaks it.
    app.ingest(&run_event(
        "COMPLETE",
        "2024-02-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000c05",
        "train_churn",
        json!([ds("clickstream")]),
        json!([model("churn")]),
    ))
    .await;
    let now = app
        .graphql(
            IMPACT,
            json!({"id": "dataset:wh:orders_raw", "types": ["MODEL"]}),
        )
        .await;
    assert_eq!(affected_ids(&now), ["dataset:models:ltv"]);
    let then = app.graphql(IMPACT, json!({"id": "dataset:wh:orders_raw", "types": ["MODEL"], "asOf": "2024-01-15T00:00:00Z"})).await;
    assert_eq!(
        affected_ids(&then),
        ["dataset:models:churn", "dataset:models:ltv"]
    );
    let everything = app
        .graphql(IMPACT, json!({"id": "dataset:wh:orders_raw"}))
        .await;
    assert_eq!(
        affected_ids(&everything),
        [
            "dataset:models:ltv",
            "dataset:wh:orders",
            "dataset:wh:orders_dashboard"
        ]
    );
    assert_eq!(everything["data"]["impact"]["truncated"], false);

    let lineage = app.graphql(
        "{ lineage(nodeId: \"dataset:models:churn\", direction: UPSTREAM) { truncated nodes { id } edges { source target } } }",
        json!({}),
    ).await;
    assert_eq!(
        lineage["data"]["lineage"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        lineage["data"]["lineage"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Lists of plain objects are answered in one pass; a selection with fragments or directives
    // goes field by field. Both give the same answer, aliases and __typename included.
    let one_pass = app.graphql(
        "{ lineage(nodeId: \"dataset:models:churn\", direction: UPSTREAM) { nodes { __typename key: id kind namespace name datasetType } edges { source to: target } } \
           impact(nodeId: \"dataset:wh:orders_raw\") { affected { node { id name kind } distance path } } }",
        json!({}),
    ).await;
    let per_item = app.graphql(
        "{ lineage(nodeId: \"dataset:models:churn\", direction: UPSTREAM) { nodes { ... on LineageNode { __typename key: id kind } namespace name datasetType } edges { source to: target @include(if: true) } } \
           impact(nodeId: \"dataset:wh:orders_raw\") { affected { node { ... N } distance path } } } \
         fragment N on LineageNode { id name kind }",
        json!({}),
    ).await;
    assert!(one_pass["errors"].is_null(), "{one_pass}");
    assert_eq!(one_pass, per_item);
    let first = &one_pass["data"]["lineage"]["nodes"][0];
    assert_eq!(first["__typename"], "LineageNode", "{one_pass}");
    assert!(
        first["key"].as_str().unwrap().starts_with("dataset:")
            || first["key"].as_str().unwrap().starts_with("job:")
    );
    assert!(
        matches!(first["kind"].as_str(), Some("DATASET" | "JOB")),
        "{one_pass}"
    );
    assert!(
        one_pass["data"]["lineage"]["edges"][0]["to"].is_string(),
        "{one_pass}"
    );
    let hop = &one_pass["data"]["impact"]["affected"][0];
    assert!(
        hop["distance"].is_i64() && hop["path"].is_array(),
        "{one_pass}"
    );

    let path = app
        .graphql(
            "{ path(from: \"dataset:wh:orders_raw\", to: \"dataset:models:ltv\") }",
            json!({}),
        )
        .await;
    assert_eq!(path["data"]["path"].as_array().unwrap().len(), 5);
    let none = app
        .graphql(
            "{ path(from: \"dataset:models:ltv\", to: \"dataset:wh:orders_raw\") }",
            json!({}),
        )
        .await;
    assert!(none["data"]["path"].is_null());
}

async fn graphql_errors_carry_a_code(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let r = app
        .graphql(
            "{ lineage(nodeId: \"dataset:no:such\") { truncated } }",
            json!({}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND");
    app.ingest(&run_event(
        "START",
        "2024-01-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000c09",
        "j",
        json!([]),
        json!([{"namespace": "a", "name": "b"}]),
    ))
    .await;
    let r = app
        .graphql(
            "{ impact(nodeId: \"dataset:a:b\", depth: -1) { truncated } }",
            json!({}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let fine = "{ lineage(nodeId: \"dataset:a:b\") { nodes { id __typename } } }";
    assert!(app.graphql(fine, json!({})).await["errors"].is_null());
    let too_deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(16),
        "} ".repeat(16)
    );
    let too_deep = too_deep.as_str();
    let r = app.graphql(too_deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );
    let page = app.get("/graphiql").await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("/api/v1/graphql"));
}

async fn column_impact_follows_column_lineage(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let output = |name: &str, fields: Value| json!({"namespace": "wh", "name": name, "facets": {"columnLineage": {"fields": fields}}});
    let from =
        |ds: &str, f: &str| json!({"inputFields": [{"namespace": "wh", "name": ds, "field": f}]});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000d01",
        "clean",
        json!([{"namespace": "wh", "name": "raw"}]),
        json!([output(
            "orders",
            json!({"total": from("raw", "amount"), "id": from("raw", "id")})
        )]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000d02",
        "report",
        json!([{"namespace": "wh", "name": "orders"}]),
        json!([output(
            "report",
            json!({"sum_total": from("orders", "total")})
        )]),
    ))
    .await;
    let q = "query($f: String!, $d: Int) { columnImpact(nodeId: \"dataset:wh:raw\", field: $f, depth: $d) { datasetId field distance } }";
    let r = app.graphql(q, json!({"f": "amount"})).await;
    assert_eq!(
        r["data"]["columnImpact"],
        json!([
            {"datasetId": "dataset:wh:orders", "field": "total", "distance": 1},
            {"datasetId": "dataset:wh:report", "field": "sum_total", "distance": 2},
        ])
    );
    let r = app.graphql(q, json!({"f": "amount", "d": 1})).await;
    assert_eq!(r["data"]["columnImpact"].as_array().unwrap().len(), 1);
    let r = app.graphql(q, json!({"f": "nothing"})).await;
    assert_eq!(r["data"]["columnImpact"], json!([]));

    // On Jan 3 orders.total is recomputed from raw.fee: now amount feeds nothing, fee feeds
    // both; as of Jan 2 the answer is still the old one.
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-03T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000d03",
        "clean",
        json!([{"namespace": "wh", "name": "raw"}]),
        json!([output("orders", json!({"total": from("raw", "fee")}))]),
    ))
    .await;
    let q = "query($f: String!, $t: DateTime) { columnImpact(nodeId: \"dataset:wh:raw\", field: $f, asOf: $t) { datasetId field } }";
    let fields = |r: &Value| -> Vec<String> {
        r["data"]["columnImpact"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|h| {
                format!(
                    "{}.{}",
                    h["datasetId"].as_str().unwrap(),
                    h["field"].as_str().unwrap()
                )
            })
            .collect()
    };
    let both = ["dataset:wh:orders.total", "dataset:wh:report.sum_total"];
    assert!(fields(&app.graphql(q, json!({"f": "amount"})).await).is_empty());
    assert_eq!(fields(&app.graphql(q, json!({"f": "fee"})).await), both);
    let before = json!({"f": "amount", "t": "2024-01-02T12:00:00Z"});
    assert_eq!(fields(&app.graphql(q, before).await), both);
    let before = json!({"f": "fee", "t": "2024-01-02T12:00:00Z"});
    assert!(fields(&app.graphql(q, before).await).is_empty());
    // The REST shape takes asOf too.
    let rest =
        |t: &str| format!("/api/v1/column-lineage?nodeId=datasetField:wh:orders:total&depth=1{t}");
    let now = app.get_json(&rest("")).await.to_string();
    assert!(
        now.contains("datasetField:wh:raw:fee") && !now.contains("datasetField:wh:raw:amount"),
        "{now}"
    );
    let then = app
        .get_json(&rest("&asOf=2024-01-02T12:00:00Z"))
        .await
        .to_string();
    assert!(
        then.contains("datasetField:wh:raw:amount") && !then.contains("datasetField:wh:raw:fee"),
        "{then}"
    );
    assert_eq!(app.get(&rest("&asOf=yesterday")).await.status, 400);
}

#[test]
fn the_checked_in_sdl_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/lineage.graphql");
    let checked_in = std::fs::read_to_string(path).unwrap();
    assert!(
        checked_in == tributary::graphql::sdl(),
        "schema/lineage.graphql has drifted: run `cargo run -- export-schema`"
    );
}

/// Gunzips a body.
fn gunzip(body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

async fn big_answers_travel_gzipped_and_paths_are_made_only_when_asked(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    // raw -> job_i -> out_i for 30 jobs, then out_0 -> deep -> end.
    let mut events = Vec::new();
    for i in 0..30 {
        events.push(run_event(
            "COMPLETE",
            "2024-05-01T10:00:00Z",
            &format!("0191f7c2-0000-7000-8000-0000000001{i:02}"),
            &format!("job_{i}"),
            json!([{"namespace": "db", "name": "raw"}]),
            json!([{"namespace": "db", "name": format!("out_{i}")}]),
        ));
    }
    events.push(run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        "0191f7c2-0000-7000-8000-000000000199",
        "deep",
        json!([{"namespace": "db", "name": "out_0"}]),
        json!([{"namespace": "db", "name": "end"}]),
    ));
    let body = Value::Array(events).to_string();
    let r = app
        .request("POST", "/api/v1/lineage/batch", &[], body.as_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // The same answer, compressed when the client accepts gzip (REST and GraphQL).
    let path = "/api/v1/lineage?nodeId=dataset:db:raw&depth=20";
    let plain = app.get(path).await;
    let zipped = app
        .request("GET", path, &[("Accept-Encoding", "gzip")], b"")
        .await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(zipped.body.len() < plain.body.len() / 3);
    let unzipped: Value = serde_json::from_slice(&gunzip(&zipped.body)).unwrap();
    assert_eq!(unzipped, plain.json());

    let query = json!({"query": IMPACT, "variables": {"id": "dataset:db:raw"}}).to_string();
    let r = app
        .request(
            "POST",
            "/api/v1/graphql",
            &[
                ("Content-Type", "application/json"),
                ("Accept-Encoding", "gzip"),
            ],
            query.as_bytes(),
        )
        .await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let v: Value = serde_json::from_slice(&gunzip(&r.body)).unwrap();
    assert_eq!(affected_ids(&v).len(), 31);
    let end = v["data"]["impact"]["affected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["node"]["id"] == "dataset:db:end")
        .unwrap();
    assert_eq!(
        end["path"],
        json!([
            "dataset:db:raw",
            "job:tests:job_0",
            "dataset:db:out_0",
            "job:tests:deep",
            "dataset:db:end"
        ])
    );
    // Without `path` in the selection the answer has none, and the rest is the same.
    let v = app
        .graphql(
            "{ impact(nodeId: \"dataset:db:raw\") { affected { distance node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(affected_ids(&v).len(), 31);
    assert!(v["data"]["impact"]["affected"][0].get("path").is_none());
}

/// The states a lineage drawing colours its jobs with, for all of its jobs in one request: the
/// latest run's (by start), none for a job that never ran, nothing for what is not a job.
async fn latest_run_states_for_the_jobs_drawn(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let io = |i: &str, o: &str| {
        (
            json!([{"namespace": "db", "name": i}]),
            json!([{"namespace": "db", "name": o}]),
        )
    };
    let (i, o) = io("raw", "clean");
    for (ty, time, run) in [
        (
            "START",
            "2024-05-01T10:00:00Z",
            "0191f7c2-0000-7000-8000-000000000e01",
        ),
        (
            "FAIL",
            "2024-05-01T10:05:00Z",
            "0191f7c2-0000-7000-8000-000000000e01",
        ),
        (
            "START",
            "2024-05-02T10:00:00Z",
            "0191f7c2-0000-7000-8000-000000000e02",
        ),
    ] {
        app.ingest(&run_event(ty, time, run, "clean", i.clone(), o.clone()))
            .await;
    }
    let (i, o) = io("clean", "report");
    app.ingest(&run_event(
        "COMPLETE",
        "2024-05-01T11:00:00Z",
        "0191f7c2-0000-7000-8000-000000000e03",
        "report",
        i,
        o,
    ))
    .await;
    let q = "query($ids: [ID!]!) { latestRunStates(nodeIds: $ids) { nodeId state } }";
    let v = app
        .graphql(
            q,
            json!({"ids": ["job:tests:clean", "job:tests:report", "dataset:db:raw", "job:tests:nothing"]}),
        )
        .await;
    assert_eq!(
        v["data"]["latestRunStates"],
        json!([
            {"nodeId": "job:tests:clean", "state": "RUNNING"},
            {"nodeId": "job:tests:report", "state": "COMPLETED"},
        ]),
        "{v}"
    );
    let too_many: Vec<String> = (0..10_001).map(|i| format!("job:tests:j{i}")).collect();
    let v = app.graphql(q, json!({"ids": too_many})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
}

/// Large lists are written as JSON text and spliced into the answer: names that need escaping,
/// a name that looks like the text's stand-in, aliases of one list and the usual per-item way
/// all give the same JSON.
async fn written_lists_escape_names_and_answer_as_resolved_item_by_item(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let names = [
        "quote \" and backslash \\",
        "line\nbreak\ttab",
        "non-ASCII é 漢字 🦀",
        "tributary-raw-00000000000000000000000000000000-0",
    ];
    let outputs: Vec<Value> = names
        .iter()
        .map(|n| json!({"namespace": "ns:with:colons", "name": n}))
        .collect();
    app.ingest(&run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        "0191f7c2-0000-7000-8000-000000000301",
        "writer \"job\"",
        json!([{"namespace": "db", "name": "src"}]),
        Value::Array(outputs),
    ))
    .await;
    let written = app
        .graphql(
            "{ lineage(nodeId: \"dataset:db:src\", direction: DOWNSTREAM) { a: nodes { id name namespace kind __typename } b: nodes { id } edges { source target } truncated } \
               impact(nodeId: \"dataset:db:src\") { affected { distance path node { id name datasetType } } truncated } }",
            json!({}),
        )
        .await;
    let per_item = app
        .graphql(
            "{ lineage(nodeId: \"dataset:db:src\", direction: DOWNSTREAM) { a: nodes { ...N } b: nodes { ... on LineageNode { id } } edges { ... on LineageEdge { source target } } truncated } \
               impact(nodeId: \"dataset:db:src\") { affected { distance path node { ... on LineageNode { id name datasetType } } } truncated } } \
             fragment N on LineageNode { id name namespace kind __typename }",
            json!({}),
        )
        .await;
    assert!(written["errors"].is_null(), "{written}");
    assert_eq!(written, per_item);
    let ids: Vec<&str> = written["data"]["impact"]["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["node"]["id"].as_str().unwrap())
        .collect();
    for name in names {
        let id = format!("dataset:ns:with:colons:{name}");
        assert!(ids.contains(&id.as_str()), "{id} not in {ids:?}");
    }
    let jobs: Vec<&Value> = written["data"]["lineage"]["a"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "JOB")
        .collect();
    assert_eq!(jobs.len(), 1, "{written}");
    assert_eq!(jobs[0]["name"], "writer \"job\"");
    assert_eq!(jobs[0]["__typename"], "LineageNode");
    assert_eq!(
        written["data"]["lineage"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

on_both_backends!(
    latest_run_states_for_the_jobs_drawn,
    which_models_break_changes_when_a_model_is_retrained,
    graphql_errors_carry_a_code,
    column_impact_follows_column_lineage,
    big_answers_travel_gzipped_and_paths_are_made_only_when_asked,
    written_lists_escape_names_and_answer_as_resolved_item_by_item,
);
