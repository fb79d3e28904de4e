//! `GET /api/v1/lineage` answered from the in-memory graph, on SQLite and Postgres.

mod common;

use common::{run_event, Db, TestApp};
use serde_json::{json, Value};

fn ids(graph: &Value) -> Vec<String> {
    let mut v: Vec<String> = graph["graph"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn a_retrained_model_changes_its_lineage_but_not_its_history(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let pg = "postgres://db:5432";
    let ds = |name: &str| json!({"namespace": pg, "name": name});
    let mut model = json!({"namespace": "models", "name": "churn", "facets": {"datasetType": {"datasetType": "MODEL"}}});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000b01",
        "prep",
        json!([ds("raw.events")]),
        json!([ds("features.v1")]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000b02",
        "train",
        json!([ds("features.v1")]),
        json!([model.clone()]),
    ))
    .await;

    let down = app
        .get_json(&format!(
            "/api/v1/lineage?nodeId=dataset:{}:raw.events&direction=DOWNSTREAM",
            "postgres://db:5432"
        ))
        .await;
    assert_eq!(
        ids(&down),
        [
            "dataset:models:churn",
            "dataset:postgres://db:5432:features.v1",
            "dataset:postgres://db:5432:raw.events",
            "job:tests:prep",
            "job:tests:train",
        ]
    );
    let churn = down["graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "dataset:models:churn")
        .unwrap();
    assert_eq!(churn["data"]["type"], "MODEL");
    // Node data is Marquez's: datasets as GET …/datasets/{name}, jobs with their latest run.
    assert_eq!(
        churn["data"]["id"],
        json!({"namespace": "models", "name": "churn"})
    );
    assert!(churn["data"]["fields"].is_array(), "{churn}");
    assert!(churn["data"]["createdAt"].is_string(), "{churn}");
    let train = down["graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "job:tests:train")
        .unwrap();
    assert_eq!(train["type"], "JOB");
    assert_eq!(train["data"]["latestRun"]["state"], "COMPLETED", "{train}");
    assert_eq!(
        train["data"]["outputs"],
        json!([{"namespace": "models", "name": "churn"}])
    );
    assert_eq!(
        churn["inEdges"],
        json!([{"origin": "job:tests:train", "destination": "dataset:models:churn"}])
    );

    // Retrained on other data.
    model["facets"] = json!({});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-02-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000b03",
        "train",
        json!([ds("features.v2")]),
        json!([model]),
    ))
    .await;
    let now = app
        .get_json("/api/v1/lineage?nodeId=dataset:models:churn&direction=UPSTREAM")
        .await;
    assert_eq!(
        ids(&now),
        [
            "dataset:models:churn",
            "dataset:postgres://db:5432:features.v2",
            "job:tests:train"
        ]
    );
    let before = app.get_json("/api/v1/lineage?nodeId=dataset:models:churn&direction=UPSTREAM&asOf=2024-01-15T00:00:00Z").await;
    assert_eq!(
        ids(&before),
        [
            "dataset:models:churn",
            "dataset:postgres://db:5432:features.v1",
            "dataset:postgres://db:5432:raw.events",
            "job:tests:prep",
            "job:tests:train",
        ]
    );
    let shallow = app
        .get_json("/api/v1/lineage?nodeId=job:tests:train&depth=1")
        .await;
    assert_eq!(
        ids(&shallow),
        [
            "dataset:models:churn",
            "dataset:postgres://db:5432:features.v2",
            "job:tests:train"
        ]
    );
    assert_eq!(shallow["truncated"], false);
}

async fn lineage_errors_are_clear(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    assert_eq!(app.get("/api/v1/lineage").await.status, 400);
    assert_eq!(
        app.get("/api/v1/lineage?nodeId=dataset:x:y").await.status,
        404
    );
    app.ingest(&run_event(
        "START",
        "2024-01-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000b09",
        "j",
        json!([]),
        json!([{"namespace": "x", "name": "y"}]),
    ))
    .await;
    assert_eq!(
        app.get("/api/v1/lineage?nodeId=dataset:x:y").await.status,
        200
    );
    assert_eq!(
        app.get("/api/v1/lineage?nodeId=dataset:x:y&direction=SIDEWAYS")
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/api/v1/lineage?nodeId=dataset:x:y&asOf=soon")
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/api/v1/lineage?nodeId=dataset:x:y&depth=-1")
            .await
            .status,
        400
    );
}

/// The lineage and impact answers of a server, for every node and several times.
async fn answers(app: &TestApp, nodes: &[&str], times: &[Option<&str>]) -> Vec<Value> {
    let query = "query($id: ID!, $asOf: DateTime) {
        lineage(nodeId: $id, direction: BOTH, depth: 20, asOf: $asOf) {
            nodes { id kind datasetType } edges { source target } truncated }
        impact(nodeId: $id, asOf: $asOf) { affected { node { id } distance path } truncated } }";
    let mut out = Vec::new();
    for id in nodes {
        for at in times {
            let mut r = app.graphql(query, json!({"id": id, "asOf": at})).await;
            // Order within a level of the walk follows the index's numbering, which differs
            // between an index built by events and one loaded whole: compare as sets.
            for (field, list) in [
                ("lineage", "nodes"),
                ("lineage", "edges"),
                ("impact", "affected"),
            ] {
                if let Some(items) = r["data"][field][list].as_array_mut() {
                    for item in items.iter_mut() {
                        // One shortest path of several may be chosen: keep its length.
                        if let Some(path) = item.get("path").and_then(Value::as_array) {
                            item["path"] = json!(path.len());
                        }
                    }
                    items.sort_by_key(|v| v.to_string());
                }
            }
            out.push(json!({"id": id, "asOf": at, "answer": r}));
        }
    }
    out
}

/// A server started on a database loads the graph the first server built event by event: the
/// same answers for every node, now and as of earlier times (changed inputs, a self-loop, a
/// job with no inputs or outputs, a soft-deleted dataset, a model).
async fn the_graph_is_loaded_from_the_store_at_startup(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let ds = |name: &str| json!({"namespace": "a", "name": name});
    let model =
        json!({"namespace": "a", "name": "m", "facets": {"datasetType": {"datasetType": "MODEL"}}});
    let events = [
        (
            "2024-01-01T00:00:00Z",
            "etl",
            json!([ds("in"), ds("b")]),
            json!([ds("out")]),
        ),
        (
            "2024-01-02T00:00:00Z",
            "train",
            json!([ds("out")]),
            json!([model]),
        ),
        (
            "2024-01-03T00:00:00Z",
            "etl",
            json!([ds("in"), ds("d")]),
            json!([ds("out")]),
        ),
        (
            "2024-01-04T00:00:00Z",
            "compact",
            json!([ds("x")]),
            json!([ds("x")]),
        ),
        ("2024-01-04T00:00:00Z", "noop", json!([]), json!([])),
        (
            "2024-01-05T00:00:00Z",
            "export",
            json!([ds("d")]),
            json!([ds("e")]),
        ),
    ];
    for (i, (time, job, inputs, outputs)) in events.into_iter().enumerate() {
        let run = format!("0191f7c2-0000-7000-8000-0000000{:05x}", 0xb10 + i);
        app.ingest(&run_event("COMPLETE", time, &run, job, inputs, outputs))
            .await;
    }
    assert_eq!(
        app.request("DELETE", "/api/v1/namespaces/a/datasets/e", &[], b"")
            .await
            .status,
        200
    );
    let nodes = [
        "dataset:a:in",
        "dataset:a:b",
        "dataset:a:d",
        "dataset:a:e",
        "dataset:a:x",
        "dataset:a:m",
        "job:tests:etl",
        "job:tests:noop",
    ];
    let times = [
        None,
        Some("2024-01-02T12:00:00Z"),
        Some("2024-01-03T12:00:00Z"),
        Some("2024-01-05T12:00:00Z"),
    ];
    let built = answers(&app, &nodes, &times).await;
    // The scenario has history to get wrong: `b` fed `etl` only before Jan 3.
    let b_now = &built[4]["answer"]["data"]["lineage"]["nodes"];
    let b_before = &built[5]["answer"]["data"]["lineage"]["nodes"];
    assert_eq!(b_now.as_array().unwrap().len(), 1, "{b_now}");
    assert!(b_before.to_string().contains("dataset:a:m"), "{b_before}");
    let TestApp { db, .. } = app;
    let second = TestApp::start(db, |_| {}).await;
    let loaded = answers(&second, &nodes, &times).await;
    for (b, l) in built.iter().zip(&loaded) {
        assert_eq!(b, l, "loaded at startup differs from built by events");
    }
}

/// Two servers on one Postgres: an event ingested by one, and a soft delete, show in the other's
/// lineage within a second (the second follows the first's commits through LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_stay_in_step() {
    let Some(first) = TestApp::spawn(Db::Postgres).await else {
        return;
    };
    let second = TestApp::start(common::TestDb::borrowed(&first.db.url), |_| {}).await;
    first
        .ingest(&run_event(
            "COMPLETE",
            "2024-01-01T00:00:00Z",
            "0191f7c2-0000-7000-8000-000000000f01",
            "replicated",
            json!([{"namespace": "r", "name": "in"}]),
            json!([{"namespace": "r", "name": "out"}]),
        ))
        .await;
    let all = ["dataset:r:in", "dataset:r:out", "job:tests:replicated"];
    lineage_within_a_second(&second, "dataset:r:in", &all, "see the event").await;
    // A tag put on by one server shows in the other's lineage node data (which it keeps rendered).
    let r = first
        .request(
            "POST",
            "/api/v1/namespaces/r/datasets/in/tags/PII",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    within_a_second(&second, "dataset:r:in", "show the tag", |answer| {
        answer["graph"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "dataset:r:in" && n["data"]["tags"] == json!(["PII"]))
    })
    .await;
    // A soft delete on one server hides the dataset in the other's graph too.
    let r = first
        .request("DELETE", "/api/v1/namespaces/r/datasets/out", &[], b"")
        .await;
    assert_eq!(r.status, 200);
    let left = ["dataset:r:in", "job:tests:replicated"];
    lineage_within_a_second(&second, "dataset:r:in", &left, "hide the deleted dataset").await;
    // A change larger than one notice (Postgres takes 8000 bytes) is announced as several.
    let outputs: Vec<Value> = (0..150)
        .map(|i| json!({"namespace": "r", "name": format!("wide_{i:03}_{}", "x".repeat(80))}))
        .collect();
    first
        .ingest(&run_event(
            "COMPLETE",
            "2024-01-02T00:00:00Z",
            "0191f7c2-0000-7000-8000-000000000f02",
            "wide",
            json!([{"namespace": "r", "name": "in"}]),
            json!(outputs),
        ))
        .await;
    within_a_second(&second, "job:tests:wide", "see a large change", |answer| {
        let ids = answer["graph"].as_array().unwrap().iter();
        ids.filter(|n| n["id"].as_str().unwrap().starts_with("dataset:r:wide_"))
            .count()
            == 150
    })
    .await;
}

/// Two servers writing the same run, job and dataset in turn: each builds on what the other
/// committed. A writer keeps the rows it committed rather than reading them back, and must stop
/// trusting them once another server has written: the later writes here merge under what the
/// other server stored (a newer schema, a terminal state, the other's inputs and outputs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_writing_in_turn_build_on_each_other() {
    let Some(first) = TestApp::spawn(Db::Postgres).await else {
        return;
    };
    let second = TestApp::start(common::TestDb::borrowed(&first.db.url), |_| {}).await;
    let run = "0191f7c2-0000-7000-8000-000000000f11";
    let a = |fields: &[(&str, &str)]| json!([common::dataset("t", "a", fields)]);
    first
        .ingest(&run_event(
            "START",
            "2024-01-01T00:00:00Z",
            run,
            "turns",
            a(&[("old", "int")]),
            json!([]),
        ))
        .await;
    second
        .ingest(&run_event(
            "COMPLETE",
            "2024-01-01T00:10:00Z",
            run,
            "turns",
            a(&[("new", "int")]),
            json!([{"namespace": "t", "name": "b"}]),
        ))
        .await;
    // Between the two in time, on the first server again.
    first
        .ingest(&run_event(
            "RUNNING",
            "2024-01-01T00:05:00Z",
            run,
            "turns",
            json!([common::dataset("t", "a", &[("middle", "int")]), {"namespace": "t", "name": "c"}]),
            json!([]),
        ))
        .await;
    for app in [&first, &second] {
        let r = app.get_json(&format!("/api/v1/jobs/runs/{run}")).await;
        assert_eq!(r["state"], "COMPLETED", "{r}");
        let names = |key: &str| {
            let mut names: Vec<String> = r[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["datasetVersionId"]["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names("inputDatasetVersions"), ["a", "c"], "{r}");
        assert_eq!(names("outputDatasetVersions"), ["b"], "{r}");
        let d = app.get_json("/api/v1/namespaces/t/datasets/a").await;
        assert_eq!(d["fields"][0]["name"], "new", "the latest schema wins: {d}");
    }
    // A delete on the second server moves the model on too: the first server's next batch, of
    // the same job, leaves the deleted dataset deleted.
    let r = second
        .request("DELETE", "/api/v1/namespaces/t/datasets/b", &[], b"")
        .await;
    assert_eq!(r.status, 200);
    first
        .ingest(&run_event(
            "COMPLETE",
            "2024-01-02T00:00:00Z",
            "0191f7c2-0000-7000-8000-000000000f12",
            "turns",
            json!([{"namespace": "t", "name": "c"}]),
            json!([]),
        ))
        .await;
    assert_eq!(
        first.get("/api/v1/namespaces/t/datasets/b").await.status,
        404
    );
    assert_eq!(
        second.get("/api/v1/namespaces/t/datasets/b").await.status,
        404
    );
}

/// Waits up to a second for a server's lineage of `node` to be `expected`.
async fn lineage_within_a_second(app: &TestApp, node: &str, expected: &[&str], what: &str) {
    within_a_second(app, node, what, |answer| ids(answer) == expected).await;
}

/// Waits up to a second for a server's lineage of `node` to pass `check`.
async fn within_a_second(app: &TestApp, node: &str, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let r = app.get(&format!("/api/v1/lineage?nodeId={node}")).await;
        if r.status == 200 && check(&r.json()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second server did not {what} within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The node with this id in a REST lineage answer.
fn node<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {answer}"))
}

/// REST lineage answers carry node data the server keeps rendered in memory: after every kind of
/// change (a run's new state, a new schema, dataset, field and job tags) the answer is the one a
/// server that renders every answer from the store gives.
async fn node_data_follows_every_change(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let run = "0191f7c2-0000-7000-8000-000000000d01";
    let input = |fields: &[(&str, &str)]| json!([common::dataset("n", "in", fields)]);
    let output = json!([{"namespace": "n", "name": "out"}]);
    app.ingest(&run_event(
        "START",
        "2024-01-01T00:00:00Z",
        run,
        "etl",
        input(&[("a", "int")]),
        output.clone(),
    ))
    .await;
    let reference = TestApp::start(common::TestDb::borrowed(&app.db.url), |c| {
        c.node_data_cache_mb = 0
    })
    .await;
    let path = "/api/v1/lineage?nodeId=dataset:n:in";
    let same = |what: &'static str| {
        let (app, reference) = (&app, &reference);
        async move {
            let ours = app.get_json(path).await;
            assert_eq!(ours, reference.get_json(path).await, "after {what}");
            ours
        }
    };
    let first = same("the first event").await;
    assert_eq!(
        node(&first, "job:tests:etl")["data"]["latestRun"]["state"],
        "RUNNING"
    );
    // Asked again: the same answer, from memory.
    assert_eq!(app.get_json(path).await, first);

    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:05:00Z",
        run,
        "etl",
        input(&[("a", "int"), ("b", "text")]),
        output,
    ))
    .await;
    let done = same("the run completed").await;
    assert_eq!(
        node(&done, "job:tests:etl")["data"]["latestRun"]["state"],
        "COMPLETED"
    );
    let fields: Vec<&str> = node(&done, "dataset:n:in")["data"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["a", "b"]);

    for (tag, what) in [
        ("/api/v1/namespaces/n/datasets/in/tags/PII", "a dataset tag"),
        (
            "/api/v1/namespaces/n/datasets/in/fields/b/tags/SENSITIVE",
            "a field tag",
        ),
        (
            "/api/v1/namespaces/tests/jobs/etl/tags/CRITICAL",
            "a job tag",
        ),
    ] {
        assert_eq!(
            app.request("POST", tag, &[], b"").await.status,
            200,
            "{tag}"
        );
        same(what).await;
    }
    let tagged = app.get_json(path).await;
    assert_eq!(
        node(&tagged, "dataset:n:in")["data"]["tags"],
        json!(["PII"])
    );
    assert_eq!(
        node(&tagged, "dataset:n:in")["data"]["fields"][1]["tags"],
        json!(["SENSITIVE"])
    );
    assert_eq!(
        node(&tagged, "job:tests:etl")["data"]["tags"],
        json!(["CRITICAL"])
    );
    let r = app
        .request(
            "DELETE",
            "/api/v1/namespaces/n/datasets/in/tags/PII",
            &[],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    let untagged = same("untagging").await;
    assert_eq!(node(&untagged, "dataset:n:in")["data"]["tags"], json!([]));
}

async fn column_lineage_in_marquez_shape(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let output = |name: &str, fields: Value| json!({"namespace": "wh", "name": name, "facets": {"columnLineage": {"fields": fields}}});
    let from =
        |ds: &str, f: &str| json!({"inputFields": [{"namespace": "wh", "name": ds, "field": f}]});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-01T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000e01",
        "clean",
        json!([{"namespace": "wh", "name": "raw"}]),
        json!([output("orders", json!({"total": from("raw", "amount")}))]),
    ))
    .await;
    app.ingest(&run_event(
        "COMPLETE",
        "2024-01-02T00:00:00Z",
        "0191f7c2-0000-7000-8000-000000000e02",
        "report",
        json!([{"namespace": "wh", "name": "orders"}]),
        json!([output(
            "report",
            json!({"sum_total": from("orders", "total")})
        )]),
    ))
    .await;
    let up = app
        .get_json("/api/v1/column-lineage?nodeId=datasetField:wh:report:sum_total")
        .await;
    assert_eq!(
        ids(&up),
        [
            "datasetField:wh:orders:total",
            "datasetField:wh:raw:amount",
            "datasetField:wh:report:sum_total"
        ]
    );
    let total = up["graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "datasetField:wh:orders:total")
        .unwrap()
        .clone();
    assert_eq!(total["type"], "DATASET_FIELD");
    assert_eq!(
        total["inEdges"],
        json!([{"origin": "datasetField:wh:raw:amount", "destination": "datasetField:wh:orders:total"}])
    );
    let down = app
        .get_json("/api/v1/column-lineage?nodeId=datasetField:wh:raw:amount&withDownstream=true")
        .await;
    assert_eq!(ids(&down).len(), 3);
    let only_up = app
        .get_json("/api/v1/column-lineage?nodeId=datasetField:wh:raw:amount")
        .await;
    assert_eq!(ids(&only_up), ["datasetField:wh:raw:amount"]);
    let dataset = app
        .get_json("/api/v1/column-lineage?nodeId=dataset:wh:orders&depth=1")
        .await;
    assert_eq!(
        ids(&dataset),
        ["datasetField:wh:orders:total", "datasetField:wh:raw:amount"]
    );
    assert_eq!(
        app.get("/api/v1/column-lineage?nodeId=job:x:y")
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/api/v1/column-lineage?nodeId=datasetField:no:such:f")
            .await
            .status,
        404
    );
}

/// Everything a server answers about a node's lineage and its fields' column lineage, now and
/// at past times: ids and edges, sorted.
async fn everything_about(app: &TestApp, node: &str, times: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for at in times
        .iter()
        .map(|t| format!("&asOf={t}"))
        .chain([String::new()])
    {
        let g = app
            .get_json(&format!("/api/v1/lineage?nodeId={node}&depth=10{at}"))
            .await;
        for n in g["graph"].as_array().unwrap() {
            for e in n["outEdges"].as_array().unwrap() {
                out.push(format!("{at} {} -> {}", e["origin"], e["destination"]));
            }
            out.push(format!("{at} node {}", n["id"]));
        }
        if let Some(dataset) = node.strip_prefix("dataset:") {
            for field in ["x", "y", "z"] {
                let c = app
                    .get_json(&format!(
                        "/api/v1/column-lineage?nodeId=datasetField:{dataset}:{field}&withDownstream=true{at}"
                    ))
                    .await;
                for n in c["graph"].as_array().into_iter().flatten() {
                    for e in n["inEdges"].as_array().into_iter().flatten() {
                        out.push(format!(
                            "{at} {field}: {} -> {}",
                            e["origin"], e["destination"]
                        ));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// The server keeps its graph in step by reading back only what each commit changed (from the
/// earliest version it touched on). Versions replaced (a START's partial view), versions that
/// arrive late (older than what is there) and column lineage that changes over time must leave
/// the live graph exactly as a server that loads it whole from the store sees it.
async fn the_live_graph_equals_one_loaded_whole(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let ns = "warehouse";
    let column = |from: &[(&str, &str)]| {
        let inputs: Vec<Value> = from
            .iter()
            .map(|(d, f)| json!({"namespace": ns, "name": d, "field": f}))
            .collect();
        json!({"_producer": "https://example.com/tests",
               "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
               "fields": {"x": {"inputFields": inputs}}})
    };
    let ds = |name: &str| json!({"namespace": ns, "name": name});
    let out = |name: &str, from: &[(&str, &str)]| json!({"namespace": ns, "name": name, "facets": {"columnLineage": column(from)}});
    let run = |n: u32| format!("0191f7c2-0000-7000-8000-{n:012}");
    let events = [
        // A START with no outputs yet, then its COMPLETE: the partial version goes.
        run_event(
            "START",
            "2024-03-01T10:00:00Z",
            &run(1),
            "etl",
            json!([ds("a")]),
            json!([]),
        ),
        run_event(
            "COMPLETE",
            "2024-03-01T11:00:00Z",
            &run(1),
            "etl",
            json!([ds("a")]),
            json!([out("b", &[("a", "y")])]),
        ),
        // A new version of the job (another input) and of b's column lineage.
        run_event(
            "COMPLETE",
            "2024-03-03T10:00:00Z",
            &run(2),
            "etl",
            json!([ds("a"), ds("c")]),
            json!([out("b", &[("c", "z")])]),
        ),
        // Late: a run older than both, reading d.
        run_event(
            "COMPLETE",
            "2024-02-20T10:00:00Z",
            &run(3),
            "etl",
            json!([ds("d")]),
            json!([out("b", &[("d", "y")])]),
        ),
        // Downstream of b, and a run in between the others with the first version's inputs.
        run_event(
            "COMPLETE",
            "2024-03-02T10:00:00Z",
            &run(4),
            "report",
            json!([ds("b")]),
            json!([out("e", &[("b", "x")])]),
        ),
        run_event(
            "COMPLETE",
            "2024-03-02T12:00:00Z",
            &run(5),
            "etl",
            json!([ds("a")]),
            json!([out("b", &[("a", "z")])]),
        ),
        run_event(
            "START",
            "2024-03-04T10:00:00Z",
            &run(6),
            "etl",
            json!([ds("c")]),
            json!([]),
        ),
    ];
    for e in &events {
        app.ingest(e).await;
    }
    // One request each, `(event, time, run, job, output, its x from)`.
    // f's field x comes from a.y in two versions in a row (one interval in the graph), then
    // from c.z; a late version from d.y lands between the first two: only the interval around
    // it is read back, the one it splits is cut on both sides of it.
    // g: a run's COMPLETE first, then its START, earlier: its version moves back from 15:00 to
    // 10:00, past a version at 12:00, while a later one stays current. Its old place must go.
    let late = [
        (
            "COMPLETE",
            "2024-03-01T09:00:00Z",
            10,
            "load",
            "f",
            ("a", "y"),
        ),
        (
            "COMPLETE",
            "2024-03-01T15:00:00Z",
            11,
            "load",
            "f",
            ("a", "y"),
        ),
        (
            "COMPLETE",
            "2024-03-02T15:00:00Z",
            12,
            "load",
            "f",
            ("c", "z"),
        ),
        (
            "COMPLETE",
            "2024-03-01T12:00:00Z",
            13,
            "load",
            "f",
            ("d", "y"),
        ),
        (
            "COMPLETE",
            "2024-03-01T09:00:00Z",
            20,
            "move",
            "g",
            ("a", "y"),
        ),
        (
            "COMPLETE",
            "2024-03-01T15:00:00Z",
            21,
            "move",
            "g",
            ("c", "z"),
        ),
        (
            "COMPLETE",
            "2024-03-01T18:00:00Z",
            23,
            "move",
            "g",
            ("a", "y"),
        ),
        (
            "COMPLETE",
            "2024-03-01T12:00:00Z",
            22,
            "move",
            "g",
            ("d", "y"),
        ),
        ("START", "2024-03-01T10:00:00Z", 21, "move", "g", ("c", "z")),
    ];
    for (kind, time, n, job, output, from) in late {
        app.ingest(&run_event(
            kind,
            time,
            &run(n),
            job,
            json!([ds(from.0)]),
            json!([out(output, &[from])]),
        ))
        .await;
    }
    // And some in one batch, one of them a START completed in the same batch.
    // Run by a DAG that is only ever named as a parent: it has no version of its own.
    let mut dag_started = run_event(
        "START",
        "2024-03-05T10:00:00Z",
        &run(7),
        "report",
        json!([ds("b"), ds("a")]),
        json!([]),
    );
    dag_started["run"]["facets"] = json!({"parent": {
        "_producer": "https://example.com/tests",
        "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json",
        "run": {"runId": run(99)}, "job": {"namespace": "airflow", "name": "dag"}}});
    let batch = json!([
        run_event(
            "COMPLETE",
            "2024-03-04T11:00:00Z",
            &run(6),
            "etl",
            json!([ds("c")]),
            json!([out("b", &[("c", "y")])])
        ),
        dag_started,
        run_event(
            "COMPLETE",
            "2024-03-05T11:00:00Z",
            &run(7),
            "report",
            json!([ds("b"), ds("a")]),
            json!([out("e", &[("a", "x")])])
        ),
    ]);
    app.ingest_batch(&batch).await;

    let times = [
        "2024-02-25T00:00:00Z",
        "2024-03-01T10:30:00Z",
        "2024-03-01T13:00:00Z",
        "2024-03-01T16:00:00Z",
        "2024-03-01T12:00:00Z",
        "2024-03-02T11:00:00Z",
        "2024-03-03T12:00:00Z",
        "2024-03-04T10:30:00Z",
        "2024-03-05T10:30:00Z",
    ];
    let nodes = [
        format!("dataset:{ns}:a"),
        format!("dataset:{ns}:b"),
        format!("dataset:{ns}:e"),
        format!("dataset:{ns}:f"),
        format!("dataset:{ns}:g"),
        "job:tests:etl".to_string(),
        "job:tests:report".to_string(),
    ];
    let fresh = TestApp::start(common::TestDb::borrowed(&app.db.url), |_| {}).await;
    for node in &nodes {
        let live = everything_about(&app, node, &times).await;
        assert!(live.len() > 10, "{node}: {live:?}");
        assert_eq!(live, everything_about(&fresh, node, &times).await, "{node}");
    }
    let parent = "/api/v1/lineage?nodeId=job:airflow:dag";
    assert_eq!(
        app.get(parent).await.status,
        fresh.get(parent).await.status,
        "a job named only as a parent is in both graphs or in neither"
    );
}

/// Commits in time order reach the graph from what the store says they did, without reading it
/// back, where that gives the same graph: new versions after a job's last one, a version a run
/// repeats, a job going back to an earlier version, datasets that never had column lineage. The
/// rest is read back: two versions starting at the same instant, a version without a
/// `columnLineage` facet becoming current where there was column lineage, column lineage that
/// changes. Either way the live graph must equal one loaded whole.
async fn commits_in_time_order_keep_the_graph_as_loaded_whole(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let ns = "stream";
    let ds = |name: &str| json!({"namespace": ns, "name": name});
    let with_columns = |name: &str, from: &str, field: &str| {
        json!({"namespace": ns, "name": name, "facets": {"columnLineage": {
            "_producer": "https://example.com/tests",
            "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
            "fields": {"x": {"inputFields": [{"namespace": ns, "name": from, "field": field}]}}}}})
    };
    let run = |n: u32| format!("0191f7c2-0000-7000-9000-{n:012}");
    let at = |hour: u32| format!("2024-04-01T{hour:02}:00:00Z");
    let complete = |n: u32, hour: u32, job: &str, inputs: Value, outputs: Value| {
        run_event("COMPLETE", &at(hour), &run(n), job, inputs, outputs)
    };
    // One request each: every commit after the first appends to what the graph holds.
    let singles = [
        complete(1, 1, "load", json!([ds("raw")]), json!([ds("clean")])),
        // The same version again (a repeated run): no change to the job's history.
        complete(2, 2, "load", json!([ds("raw")]), json!([ds("clean")])),
        complete(
            3,
            3,
            "load",
            json!([ds("raw"), ds("ref")]),
            json!([ds("clean")]),
        ),
        // Back to the first version's content: that version began at 01:00 and stays as it was.
        complete(4, 4, "load", json!([ds("raw")]), json!([ds("clean")])),
        // Column lineage appears, then changes, then a version without it becomes current.
        complete(
            5,
            5,
            "model",
            json!([ds("clean")]),
            json!([with_columns("features", "clean", "a")]),
        ),
        complete(
            6,
            6,
            "model",
            json!([ds("clean")]),
            json!([with_columns("features", "clean", "b")]),
        ),
        complete(
            7,
            7,
            "model",
            json!([ds("clean"), ds("ref")]),
            json!([ds("features")]),
        ),
        // A run that reads and writes nothing yet: a version with no edges.
        run_event("START", &at(8), &run(8), "load", json!([]), json!([])),
        complete(9, 9, "load", json!([ds("ref")]), json!([ds("clean")])),
    ];
    for e in &singles {
        app.ingest(e).await;
    }
    // Two versions of one job starting at the same instant, and two new versions in one commit.
    let batch = json!([
        complete(
            10,
            10,
            "load",
            json!([ds("raw")]),
            json!([ds("clean"), ds("side")])
        ),
        complete(
            11,
            11,
            "report",
            json!([ds("features")]),
            json!([ds("dash")])
        ),
        complete(
            12,
            12,
            "report",
            json!([ds("features"), ds("side")]),
            json!([ds("dash")])
        ),
    ]);
    app.ingest_batch(&batch).await;
    app.ingest(&complete(
        13,
        10,
        "load",
        json!([ds("ref"), ds("raw")]),
        json!([ds("clean")]),
    ))
    .await;

    let times: Vec<String> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        .iter()
        .map(|h| format!("2024-04-01T{h:02}:30:00Z"))
        .collect();
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    let fresh = TestApp::start(common::TestDb::borrowed(&app.db.url), |_| {}).await;
    for node in [
        format!("dataset:{ns}:clean"),
        format!("dataset:{ns}:features"),
        format!("dataset:{ns}:dash"),
        "job:tests:load".to_string(),
    ] {
        let live = everything_about(&app, &node, &times).await;
        assert!(live.len() > 20, "{node}: {live:?}");
        assert_eq!(
            live,
            everything_about(&fresh, &node, &times).await,
            "{node}"
        );
    }
}

/// After a start the server renders every node's REST data in the background (most connected
/// first), says so in `/readyz`, and answers from it what a server that renders on demand
/// answers.
async fn node_data_is_rendered_after_a_start(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let ds = |name: &str| json!({"namespace": "warm", "name": name});
    let run = |n: u32| format!("0191f7c2-0000-7000-a000-{n:012}");
    for (n, (job, inputs, outputs)) in [
        ("load", vec!["raw"], vec!["clean"]),
        ("model", vec!["clean", "ref"], vec!["features"]),
        ("report", vec!["features"], vec!["dash"]),
    ]
    .into_iter()
    .enumerate()
    {
        let inputs: Vec<Value> = inputs.into_iter().map(ds).collect();
        let outputs: Vec<Value> = outputs.into_iter().map(ds).collect();
        app.ingest(&run_event(
            "COMPLETE",
            "2024-05-01T10:00:00Z",
            &run(n as u32),
            job,
            json!(inputs),
            json!(outputs),
        ))
        .await;
    }
    let warm = TestApp::start(common::TestDb::borrowed(&app.db.url), |_| {}).await;
    let mut ready = warm.get_json("/readyz").await;
    for _ in 0..100 {
        if ready["nodeData"]["warming"] == false {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        ready = warm.get_json("/readyz").await;
    }
    // Five datasets and three jobs, all rendered.
    assert_eq!(ready["nodeData"]["warming"], false, "{ready}");
    assert_eq!(ready["nodeData"]["nodes"], 8, "{ready}");
    let cold = TestApp::start(common::TestDb::borrowed(&app.db.url), |c| {
        c.node_data_cache_mb = 0
    })
    .await;
    for node in ["dataset:warm:clean", "dataset:warm:dash", "job:tests:model"] {
        let path = format!("/api/v1/lineage?nodeId={node}&depth=10");
        let got = warm.get_json(&path).await;
        assert_eq!(got, cold.get_json(&path).await, "{node}");
        assert_eq!(got["graph"].as_array().unwrap().len(), 8, "{node}: {got}");
    }
    assert_eq!(warm.get_json("/readyz").await["nodeData"]["nodes"], 8);
}

on_both_backends!(
    node_data_is_rendered_after_a_start,
    node_data_follows_every_change,
    the_live_graph_equals_one_loaded_whole,
    commits_in_time_order_keep_the_graph_as_loaded_whole,
    column_lineage_in_marquez_shape,
    a_retrained_model_changes_its_lineage_but_not_its_history,
    lineage_errors_are_clear,
    the_graph_is_loaded_from_the_store_at_startup,
);
