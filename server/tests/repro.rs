//! Reproducibility, black-box, on SQLite and Postgres: version tags, diffs, manifests, input
//! drift, the `check` gate, `verify` and `retention`.

mod common;

use common::{run_event, tributary, Db, TestApp};
use serde_json::{json, Value};

const EXTRACT_1: &str = "0191f7c2-0000-7000-8000-00000000a001";
const TRAIN: &str = "0191f7c2-0000-7000-8000-00000000a002";
const EXTRACT_2: &str = "0191f7c2-0000-7000-8000-00000000a003";
const SCRATCH_1: &str = "0191f7c2-0000-7000-8000-00000000a004";
const SCRATCH_2: &str = "0191f7c2-0000-7000-8000-00000000a005";

/// `wh.orders` as a writer describes it: schema, a producer-supplied version, a row count.
fn orders(fields: &[(&str, &str)], producer_version: &str, rows: i64) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(n, t)| json!({"name": n, "type": t}))
        .collect();
    let p = "https://example.com/tests";
    json!({"namespace": "wh", "name": "orders",
        "facets": {
            "schema": {"_producer": p, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json", "fields": fields},
            "version": {"_producer": p, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json", "datasetVersion": producer_version}
        },
        "outputFacets": {"outputStatistics": {"_producer": p, "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json", "rowCount": rows, "size": rows * 10}}
    })
}

fn model() -> Value {
    json!({"namespace": "models", "name": "churn", "facets": {"datasetType": {
        "_producer": "https://example.com/tests",
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/DatasetTypeDatasetFacet.json",
        "datasetType": "MODEL"}}})
}

/// extract writes orders v1 (delta-7), train reads it and writes the model, extract rewrites
/// orders with another schema (delta-8); a scratch table gets two versions nobody reads.
async fn scenario(app: &TestApp) {
    let events = [
        run_event(
            "COMPLETE",
            "2024-03-01T00:00:00Z",
            EXTRACT_1,
            "extract",
            json!([]),
            json!([orders(&[("id", "INT"), ("amount", "INT")], "delta-7", 100)]),
        ),
        run_event(
            "COMPLETE",
            "2024-03-02T00:00:00Z",
            TRAIN,
            "train",
            json!([{"namespace": "wh", "name": "orders"}]),
            json!([model()]),
        ),
        run_event(
            "COMPLETE",
            "2024-03-03T00:00:00Z",
            EXTRACT_2,
            "extract",
            json!([]),
            json!([orders(
                &[("id", "BIGINT"), ("region", "TEXT")],
                "delta-8",
                150
            )]),
        ),
        run_event(
            "COMPLETE",
            "2024-03-01T00:00:00Z",
            SCRATCH_1,
            "scratch",
            json!([]),
            json!([common::dataset("wh", "scratch", &[("x", "INT")])]),
        ),
        run_event(
            "COMPLETE",
            "2024-03-04T00:00:00Z",
            SCRATCH_2,
            "scratch",
            json!([]),
            json!([common::dataset("wh", "scratch", &[("y", "INT")])]),
        ),
    ];
    for e in &events {
        app.ingest(e).await;
    }
}

async fn versions(app: &TestApp, ns: &str, name: &str) -> Vec<Value> {
    app.get_json(&format!("/api/v1/namespaces/{ns}/datasets/{name}/versions"))
        .await["versions"]
        .as_array()
        .unwrap()
        .clone()
}

async fn put(app: &TestApp, path: &str) -> common::Response {
    app.request("PUT", path, &[], b"").await
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect()
}

async fn manifests_name_the_versions_runs_read(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    scenario(&app).await;
    let order_versions = versions(&app, "wh", "orders").await;
    assert_eq!(order_versions.len(), 2);
    let (v2, v1) = (
        order_versions[0]["version"].as_str().unwrap(),
        order_versions[1]["version"].as_str().unwrap(),
    );

    // The training run's manifest still names v1 after orders was rewritten.
    let m = app
        .get_json(&format!("/api/v1/jobs/runs/{TRAIN}/manifest?depth=1"))
        .await;
    assert_eq!(m["runId"], TRAIN);
    assert_eq!(m["job"]["name"], "train");
    assert!(m["job"]["version"].is_string(), "{m}");
    let input = &m["inputs"][0];
    assert_eq!(input["datasetId"], "dataset:wh:orders");
    assert_eq!(input["version"], v1);
    assert_eq!(input["producerVersion"], "delta-7");
    assert_eq!(names(&input["schema"]), ["id", "amount"]);
    assert_eq!(input["producedByRun"], EXTRACT_1);
    assert!(input["checksum"].as_str().unwrap().len() == 64, "{input}");
    assert_eq!(m["outputs"][0]["datasetId"], "dataset:models:churn");
    // …and the run that wrote it, with the producer's version, one level up.
    let up = &m["upstream"];
    assert_eq!(up.as_array().unwrap().len(), 1, "{m}");
    assert_eq!(up[0]["runId"], EXTRACT_1);
    assert_eq!(up[0]["outputs"][0]["producerVersion"], "delta-7");
    assert_eq!(up[0]["upstream"], json!([]));

    // Byte-identical from the same store; TOML carries the same content.
    let path = format!("/api/v1/jobs/runs/{TRAIN}/manifest?depth=3");
    assert_eq!(app.get(&path).await.body, app.get(&path).await.body);
    let toml = app.get(&format!("{path}&format=toml")).await;
    assert_eq!(toml.status, 200);
    let text = String::from_utf8(toml.body).unwrap();
    assert!(text.contains(&format!("runId = \"{TRAIN}\"")), "{text}");
    assert!(text.contains("producerVersion = \"delta-7\""), "{text}");

    // GraphQL gives the same manifest.
    let g = app
        .graphql(
            "query($r: ID!) { manifest(runId: $r, depth: 1) { runId inputs { version producerVersion } upstream { runId } } }",
            json!({"r": TRAIN}),
        )
        .await;
    assert_eq!(g["data"]["manifest"]["inputs"][0]["version"], v1, "{g}");
    assert_eq!(g["data"]["manifest"]["upstream"][0]["runId"], EXTRACT_1);

    // What changed since the model was trained.
    let g = app
        .graphql(
            "query($r: ID!) { changedInputs(runId: $r) { datasetId usedVersion currentVersion diff {
                fieldsAdded { name type } fieldsRemoved { name } fieldsChanged { name from { type } to { type } }
                facetsChanged statistics { rowCount { from to delta } } to { producerVersion createdByRun { id } } } } }",
            json!({"r": TRAIN}),
        )
        .await;
    let changed = &g["data"]["changedInputs"];
    assert_eq!(changed.as_array().unwrap().len(), 1, "{g}");
    let c = &changed[0];
    assert_eq!(c["datasetId"], "dataset:wh:orders");
    assert_eq!(
        (c["usedVersion"].as_str(), c["currentVersion"].as_str()),
        (Some(v1), Some(v2))
    );
    let d = &c["diff"];
    assert_eq!(
        d["fieldsAdded"],
        json!([{"name": "region", "type": "TEXT"}])
    );
    assert_eq!(d["fieldsRemoved"], json!([{"name": "amount"}]));
    assert_eq!(
        d["fieldsChanged"],
        json!([{"name": "id", "from": {"type": "INT"}, "to": {"type": "BIGINT"}}])
    );
    assert_eq!(
        d["statistics"]["rowCount"],
        json!({"from": 100, "to": 150, "delta": 50})
    );
    assert!(d["facetsChanged"]
        .as_array()
        .unwrap()
        .contains(&json!("schema")));
    assert_eq!(d["to"]["producerVersion"], "delta-8");
    assert_eq!(d["to"]["createdByRun"]["id"], EXTRACT_2);

    // Unknown runs and bad ids are clear errors.
    assert_eq!(
        app.get(&format!("/api/v1/jobs/runs/{SCRATCH_1}0/manifest"))
            .await
            .status,
        400
    );
    let missing = app
        .get("/api/v1/jobs/runs/0191f7c2-0000-7000-8000-0000000000ff/manifest")
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        app.get(&format!("/api/v1/jobs/runs/{TRAIN}/manifest?format=xml"))
            .await
            .status,
        400
    );
}

async fn tags_resolve_move_and_diff(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    scenario(&app).await;
    let order_versions = versions(&app, "wh", "orders").await;
    let (v2, v1) = (
        order_versions[0]["version"].as_str().unwrap().to_string(),
        order_versions[1]["version"].as_str().unwrap().to_string(),
    );
    let base = "/api/v1/namespaces/wh/datasets/orders/versions";

    // Tag by producer version over REST; the tag then names the version everywhere.
    let r = put(&app, &format!("{base}/delta-7/tags/v1.0.0")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["version"], v1.as_str());
    assert_eq!(r.json()["versionTags"], json!(["v1.0.0"]));
    let by_tag = app.get_json(&format!("{base}/v1.0.0")).await;
    assert_eq!(by_tag["version"], v1.as_str());
    assert_eq!(by_tag["checksumValid"], true);

    // The GraphQL mutation; moving a tag keeps its history.
    let tag = "mutation($d: ID!, $v: ID!, $t: String!) { tagDatasetVersion(datasetId: $d, version: $v, tag: $t) { id tags } }";
    let g = app
        .graphql(
            tag,
            json!({"d": "dataset:wh:orders", "v": v1, "t": "candidate"}),
        )
        .await;
    assert_eq!(
        g["data"]["tagDatasetVersion"]["tags"],
        json!(["candidate", "v1.0.0"]),
        "{g}"
    );
    let g = app
        .graphql(
            tag,
            json!({"d": "dataset:wh:orders", "v": "delta-8", "t": "candidate"}),
        )
        .await;
    assert_eq!(g["data"]["tagDatasetVersion"]["id"], v2.as_str(), "{g}");
    let history = app
        .get_json("/api/v1/namespaces/wh/datasets/orders/version-tags")
        .await;
    let candidate: Vec<&Value> = history["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tag"] == "candidate")
        .collect();
    assert_eq!(candidate.len(), 2, "{history}");
    assert_eq!(candidate[0]["version"], v1.as_str());
    assert!(candidate[0]["untaggedAt"].is_string());
    assert_eq!(candidate[1]["version"], v2.as_str());
    assert!(candidate[1]["untaggedAt"].is_null());

    // Diff by tags over REST.
    let d = app
        .get_json("/api/v1/namespaces/wh/datasets/orders/versions/diff?from=v1.0.0&to=candidate")
        .await;
    assert_eq!(d["from"]["version"], v1.as_str());
    assert_eq!(d["from"]["tags"], json!(["v1.0.0"]));
    assert_eq!(d["from"]["createdByRun"]["id"], EXTRACT_1);
    assert_eq!(names(&d["fieldsAdded"]), ["region"]);
    assert_eq!(names(&d["fieldsRemoved"]), ["amount"]);
    assert_eq!(d["statistics"]["bytes"]["delta"], 500);
    let g = app
        .graphql(
            "{ datasetVersionDiff(datasetId: \"dataset:wh:orders\", from: \"v1.0.0\", to: \"delta-8\") { fieldsRemoved { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        g["data"]["datasetVersionDiff"]["fieldsRemoved"],
        json!([{"name": "amount"}]),
        "{g}"
    );

    // Untag; bad references and tags are 4xx with the reason.
    let r = app
        .request("DELETE", &format!("{base}/{v1}/tags/v1.0.0"), &[], b"")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["versionTags"], json!([]));
    assert_eq!(app.get(&format!("{base}/v1.0.0")).await.status, 404);
    let r = app
        .request("DELETE", &format!("{base}/{v1}/tags/v1.0.0"), &[], b"")
        .await;
    assert_eq!(r.status, 404);
    let r = put(&app, &format!("{base}/nope/tags/x")).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].as_str().unwrap().contains("'nope'"));
    let r = app
        .get("/api/v1/namespaces/wh/datasets/orders/versions/diff?from=v1.0.0")
        .await;
    assert_eq!(r.status, 400);
    let g = app
        .graphql(tag, json!({"d": "dataset:wh:nothing", "v": v1, "t": "x"}))
        .await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "NOT_FOUND", "{g}");
}

async fn check_gate_verify_and_retention(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    scenario(&app).await;
    let base = "/api/v1/namespaces/wh/datasets/orders/versions";
    assert_eq!(
        put(&app, &format!("{base}/delta-7/tags/v1.0.0"))
            .await
            .status,
        200
    );
    let server = format!("http://{}", app.addr);
    let run = |args: &[&str]| {
        let out = tributary(&app.db).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // The build gate.
    let (code, out, err) = run(&[
        "check",
        "--server",
        &server,
        "--expect",
        "wh:orders@v1.0.0",
        "--expect",
        "models:churn",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("ok       wh:orders@v1.0.0"), "{out}");
    let (code, out, _) = run(&[
        "check",
        "--server",
        &server,
        "--expect",
        "wh:orders@v1.0.0",
        "--expect",
        "wh:orders@v9.9.9",
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("MISSING  wh:orders@v9.9.9"), "{out}");
    assert!(!out.contains("MISSING  wh:orders@v1.0.0"), "{out}");
    let (code, out, err) = run(&[
        "check",
        "--server",
        &server,
        "--expect",
        "wh:orders#delta-8",
        "--inputs-of",
        TRAIN,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, err) = run(&["check", "--server", &server, "--expect", "no-colon"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("NAMESPACE:NAME"), "{err}");

    // The manifest command, twice, byte for byte.
    let (code, first, err) = run(&[
        "manifest", "--server", &server, "--run", TRAIN, "--depth", "2",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(first.contains("delta-7"), "{first}");
    let (_, second, _) = run(&[
        "manifest", "--server", &server, "--run", TRAIN, "--depth", "2",
    ]);
    assert_eq!(first, second);
    let (code, toml, _) = run(&[
        "manifest", "--server", &server, "--run", TRAIN, "--format", "toml",
    ]);
    assert_eq!(code, Some(0));
    assert!(toml.contains("[[inputs]]"), "{toml}");

    // Integrity: all good, then a corrupted checksum is found.
    let (code, out, err) = run(&["verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("checked 5 events and 5 dataset versions: 0 mismatches"),
        "{out}"
    );
    let scratch = versions(&app, "wh", "scratch").await;
    assert_eq!(scratch.len(), 2);
    let old_scratch = scratch[1]["version"].as_str().unwrap().to_string();
    let pool = common::pool(&app.db).await;
    sqlx::query("UPDATE dataset_versions SET checksum = 'tampered' WHERE id = $1")
        .bind(&old_scratch)
        .execute(&pool)
        .await
        .unwrap();
    let (code, out, _) = run(&["verify"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("MISMATCH datasetVersion {old_scratch}")),
        "{out}"
    );
    let v = app
        .get_json(&format!(
            "/api/v1/namespaces/wh/datasets/scratch/versions/{old_scratch}"
        ))
        .await;
    assert_eq!(v["checksumValid"], false);

    // Retention: a dry run changes nothing.
    let job_versions = app
        .get_json("/api/v1/namespaces/tests/jobs/train/versions")
        .await;
    let (code, out, err) = run(&["retention", "--older-than", "0d", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("would remove 5 raw events"), "{out}");
    assert!(out.contains("would remove 1 runs"), "{out}");
    assert!(out.contains("would remove 1 dataset versions"), "{out}");
    assert_eq!(app.event_count().await, 5);

    let (code, out, err) = run(&["retention", "--older-than", "0d"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("removed 5 raw events"), "{out}");
    assert_eq!(app.event_count().await, 0);
    // The old scratch version and its run went: nothing current, tagged or kept needed them.
    assert_eq!(versions(&app, "wh", "scratch").await.len(), 1);
    assert_eq!(
        app.get(&format!("/api/v1/jobs/runs/{SCRATCH_1}"))
            .await
            .status,
        404
    );
    // The tagged version, the model's producing run and its manifest are all still there.
    assert_eq!(
        app.get_json(&format!("{base}/v1.0.0")).await["producerVersion"],
        "delta-7"
    );
    let m = app
        .get_json(&format!("/api/v1/jobs/runs/{TRAIN}/manifest?depth=1"))
        .await;
    assert_eq!(m["inputs"][0]["producerVersion"], "delta-7");
    assert_eq!(m["upstream"][0]["runId"], EXTRACT_1);
    let (code, out, _) = run(&[
        "check",
        "--server",
        &server,
        "--expect",
        "wh:orders@v1.0.0",
        "--inputs-of",
        TRAIN,
    ]);
    assert_eq!(code, Some(0), "{out}");
    // The lineage graph and job versions are untouched.
    assert_eq!(
        app.get_json("/api/v1/namespaces/tests/jobs/train/versions")
            .await,
        job_versions
    );
    let g = app
        .graphql(
            "{ lineage(nodeId: \"dataset:models:churn\", direction: UPSTREAM) { nodes { id } } }",
            json!({}),
        )
        .await;
    let ids: Vec<&str> = g["data"]["lineage"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"dataset:wh:orders") && ids.contains(&"job:tests:extract"),
        "{g}"
    );
    // New events for the dropped months still land (the partition comes back).
    app.ingest(&run_event(
        "COMPLETE",
        "2024-03-05T00:00:00Z",
        "0191f7c2-0000-7000-8000-00000000a006",
        "late",
        json!([]),
        json!([]),
    ))
    .await;
    assert_eq!(app.event_count().await, 1);
    let (code, _, err) = run(&["retention", "--older-than", "soon"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--older-than"), "{err}");
}

async fn upstream_run_lineage_in_marquez_shape(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    scenario(&app).await;
    let v = app
        .get_json(&format!(
            "/api/v1/runlineage/upstream?runId={TRAIN}&depth=5"
        ))
        .await;
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{v}");
    assert_eq!(runs[0]["run"]["id"], TRAIN);
    assert_eq!(runs[0]["run"]["status"], "COMPLETED");
    assert_eq!(runs[0]["job"]["name"], "train");
    assert_eq!(runs[0]["inputs"][0]["name"], "orders");
    assert_eq!(runs[0]["inputs"][0]["producedByRunId"], EXTRACT_1);
    assert_eq!(runs[1]["run"]["id"], EXTRACT_1);
    assert_eq!(runs[1]["inputs"], json!([]));
    let shallow = app
        .get_json(&format!(
            "/api/v1/runlineage/upstream?runId={TRAIN}&depth=0"
        ))
        .await;
    assert_eq!(shallow["runs"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/runlineage/upstream").await.status, 400);
    assert_eq!(
        app.get("/api/v1/runlineage/upstream?runId=nope")
            .await
            .status,
        400
    );
}

async fn graphql_catalog_pages_like_relay(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    scenario(&app).await;
    let q = "query($after: String) { search(query: \"r\", first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id kind name } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let g = app.graphql(q, json!({"after": after})).await;
        let page = &g["data"]["search"];
        for e in page["edges"].as_array().expect("edges") {
            seen.push(e["node"]["id"].as_str().unwrap().to_string());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            assert_eq!(
                page["totalCount"].as_i64().unwrap() as usize,
                seen.len(),
                "{g}"
            );
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    seen.sort();
    // "r" is in orders, churn, extract, train, scratch (dataset and job).
    assert_eq!(
        seen,
        [
            "dataset:models:churn",
            "dataset:wh:orders",
            "dataset:wh:scratch",
            "job:tests:extract",
            "job:tests:scratch",
            "job:tests:train"
        ]
    );

    let g = app
        .graphql(
            "{ dataset(id: \"dataset:wh:orders\") { name fields { name type } currentVersion { producerVersion createdByRun { id state job { name } } }
                 versions(first: 1) { totalCount edges { node { producerVersion } } pageInfo { hasNextPage } } }
               job(id: \"job:tests:train\") { name currentVersion { inputs outputs } runs(first: 5) { totalCount edges { node { id state inputs { datasetId version } } } } }
               run(id: \"0191f7c2-0000-7000-8000-00000000a002\") { state jobVersion { inputs } }
               namespaces { totalCount edges { node { name } } }
               missing: dataset(id: \"dataset:wh:nothing\") { name } }",
            json!({}),
        )
        .await;
    assert!(g["errors"].is_null(), "{g}");
    let d = &g["data"];
    assert_eq!(
        d["dataset"]["fields"],
        json!([{"name": "id", "type": "BIGINT"}, {"name": "region", "type": "TEXT"}])
    );
    assert_eq!(d["dataset"]["currentVersion"]["producerVersion"], "delta-8");
    assert_eq!(
        d["dataset"]["currentVersion"]["createdByRun"]["id"],
        EXTRACT_2
    );
    assert_eq!(
        d["dataset"]["currentVersion"]["createdByRun"]["job"]["name"],
        "extract"
    );
    assert_eq!(d["dataset"]["versions"]["totalCount"], 2);
    assert_eq!(d["dataset"]["versions"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        d["job"]["currentVersion"]["inputs"],
        json!(["dataset:wh:orders"])
    );
    assert_eq!(d["job"]["runs"]["totalCount"], 1);
    assert_eq!(
        d["job"]["runs"]["edges"][0]["node"]["inputs"][0]["datasetId"],
        "dataset:wh:orders"
    );
    assert_eq!(d["run"]["state"], "COMPLETED");
    assert_eq!(
        d["run"]["jobVersion"]["inputs"],
        json!(["dataset:wh:orders"])
    );
    let namespaces: Vec<&str> = d["namespaces"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["models", "tests", "wh"]);
    assert!(d["missing"].is_null());
    let g = app
        .graphql("{ run(id: \"nope\") { state } }", json!({}))
        .await;
    assert_eq!(
        g["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{g}"
    );
}

/// The README's walk-through (`docs/examples/reproduce.sh`) runs as written.
async fn the_readme_walkthrough_runs_as_written(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/reproduce.sh");
    let url = format!("http://{}", app.addr);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("TRIBUTARY_URL", url)
            .env("TRIBUTARY_BIN", env!("CARGO_BIN_EXE_tributary"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""versionTags":["v1.0.0"]"#), "{stdout}");
    assert!(
        stdout.contains(r#""fieldsRemoved":[{"name":"amount""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#"producerVersion = "7""#), "{stdout}");
    assert!(stdout.contains("ok       lake:orders@v1.0.0"), "{stdout}");
    assert!(stdout.contains("MISSING  lake:orders@v2.0.0"), "{stdout}");
}

/// Versions as real emitters send them: the `version` facet, the older `datasetVersion` key,
/// Iceberg's commit report on an output and scan report on an input.
async fn producer_versions_come_as_emitters_send_them(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let p = "https://example.com/tests";
    let older = json!({"namespace": "lake", "name": "legacy", "facets": {"datasetVersion": {
        "_producer": p, "_schemaURL": "https://example.com/DatasetVersion.json", "datasetVersion": "v42"}}});
    let committed = json!({"namespace": "iceberg", "name": "db.events", "outputFacets": {"icebergCommitReport": {
        "_producer": p, "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/IcebergCommitReportOutputDatasetFacet.json",
        "snapshotId": 3051729675574597004u64, "sequenceNumber": 7, "operation": "append"}}});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        "0191f7c2-0000-7000-8000-00000000b001",
        "write_events",
        json!([]),
        json!([older, committed]),
    ))
    .await;
    let scanned = json!({"namespace": "iceberg", "name": "db.events", "inputFacets": {"icebergScanReport": {
        "_producer": p, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/IcebergScanReportInputDatasetFacet.json",
        "snapshotId": 3051729675574597004u64, "schemaId": 1}}});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-05-02T10:00:00Z",
        "0191f7c2-0000-7000-8000-00000000b002",
        "read_events",
        json!([scanned]),
        json!([]),
    ))
    .await;
    let versions = |path: &'static str| {
        let app = &app;
        async move { app.get_json(path).await["versions"].clone() }
    };
    let legacy = versions("/api/v1/namespaces/lake/datasets/legacy/versions").await;
    assert_eq!(legacy[0]["producerVersion"], "v42", "{legacy}");
    let events = versions("/api/v1/namespaces/iceberg/datasets/db.events/versions").await;
    assert_eq!(
        events.as_array().unwrap().len(),
        1,
        "the scan named the committed snapshot"
    );
    assert_eq!(
        events[0]["producerVersion"], "3051729675574597004",
        "{events}"
    );
    let manifest = app
        .get_json("/api/v1/jobs/runs/0191f7c2-0000-7000-8000-00000000b002/manifest")
        .await;
    assert_eq!(
        manifest["inputs"][0]["producerVersion"], "3051729675574597004",
        "{manifest}"
    );
    assert_eq!(manifest["inputs"][0]["version"], events[0]["version"]);

    // A model trained on the committed snapshot and on a table nobody versions: `reproduce`
    // gives the Iceberg time-travel query for one, says the other cannot be read back exactly,
    // and exits 1.
    let snapshot = json!({"namespace": "iceberg", "name": "db.events", "inputFacets": {"icebergScanReport": {
        "_producer": p, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/IcebergScanReportInputDatasetFacet.json",
        "snapshotId": 3051729675574597004u64}}});
    app.ingest(&run_event(
        "COMPLETE",
        "2024-05-03T10:00:00Z",
        "0191f7c2-0000-7000-8000-00000000b003",
        "train",
        json!([snapshot, {"namespace": "wh", "name": "raw_clicks"}]),
        json!([{"namespace": "models", "name": "churn"}]),
    ))
    .await;
    let r = app
        .get_json("/api/v1/namespaces/models/datasets/churn/reproduce")
        .await;
    assert_eq!(r["exact"], false, "{r}");
    let input = |name: &str| {
        r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {r}"))
    };
    let events = input("db.events");
    assert_eq!(events["kind"], "iceberg");
    assert_eq!(
        events["command"],
        "SELECT * FROM db.events FOR VERSION AS OF 3051729675574597004"
    );
    assert_eq!(events["exact"], true);
    let clicks = input("raw_clicks");
    assert_eq!(clicks["exact"], false);
    assert!(clicks["note"]
        .as_str()
        .unwrap()
        .contains("no snapshot id was recorded"));
    let gql = app
        .graphql(
            "{ reproduce(datasetId: \"dataset:models:churn\") { exact inputs { name kind command } } }",
            json!({}),
        )
        .await;
    assert_eq!(gql["data"]["reproduce"]["exact"], false, "{gql}");

    let out = tributary(&app.db)
        .args([
            "reproduce",
            "models:churn",
            "--server",
            &format!("http://{}", app.addr),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "not every input is exact");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT EXACT dataset:wh:raw_clicks"), "{text}");
    assert!(
        text.contains("FOR VERSION AS OF 3051729675574597004"),
        "{text}"
    );
}

on_both_backends!(
    producer_versions_come_as_emitters_send_them,
    manifests_name_the_versions_runs_read,
    tags_resolve_move_and_diff,
    check_gate_verify_and_retention,
    upstream_run_lineage_in_marquez_shape,
    graphql_catalog_pages_like_relay,
    the_readme_walkthrough_runs_as_written,
);
