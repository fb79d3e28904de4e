//! lakeFS action webhooks in (`POST /api/v1/integrations/lakefs`): payloads shaped as lakeFS
//! sends them (its `EventInfo`: post-commit, post-merge, post-create-tag, pre-merge) create
//! versions and version tags, a second delivery changes nothing, and the pre-merge gate answers
//! 412 with the reason when an expected snapshot is missing, so lakeFS blocks the merge.

mod common;

use serde_json::{json, Value};

use common::{Db, TestApp};

const HOOK: &str = "/api/v1/integrations/lakefs?path=tables/orders&path=/tables/customers/";

fn commit(id: &str, branch: &str, time: &str) -> Value {
    json!({
        "event_type": "post-commit",
        "event_time": time,
        "action_name": "Tributary lineage",
        "hook_id": "tributary",
        "repository_id": "lake",
        "branch_id": branch,
        "source_ref": id,
        "commit_id": id,
        "commit_message": "daily load",
        "committer": "airflow",
        "commit_metadata": {"dag_run": "scheduled__2026-12-01"}
    })
}

async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let r = app
        .request("POST", path, &[], body.to_string().as_bytes())
        .await;
    let status = r.status;
    (
        status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// The producer versions of a dataset's versions, and the tags of each.
async fn versions(app: &TestApp, name: &str) -> Vec<(String, Vec<String>)> {
    let r = app
        .get_json(&format!(
            "/api/v1/namespaces/lakefs%3A%2F%2Flake/datasets/{}/versions?limit=100",
            name.replace('/', "%2F")
        ))
        .await;
    let mut out: Vec<(String, Vec<String>)> = r["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let tags = v["versionTags"]
                .as_array()
                .map(|t| t.iter().map(|t| t.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (v["producerVersion"].as_str().unwrap().to_string(), tags)
        })
        .collect();
    out.sort();
    out
}

async fn lakefs_commits_become_versions_and_tags_and_gate_merges(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    // A commit on main: a version of both datasets, whatever slashes the action wrote.
    let (status, answer) = post(
        &app,
        HOOK,
        &commit("c0ffee01", "main", "2026-12-01T10:00:00Z"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], "c0ffee01");
    assert_eq!(
        answer["datasets"],
        json!([
            "dataset:lakefs://lake:tables/orders",
            "dataset:lakefs://lake:tables/customers"
        ])
    );
    // Delivered again (lakeFS retries a hook that timed out): nothing new.
    let events = app.event_count().await;
    let (status, _) = post(
        &app,
        HOOK,
        &commit("c0ffee01", "main", "2026-12-01T10:00:00Z"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.event_count().await, events);

    // A merge from a feature branch into main: another version, written by main's job.
    let mut merge = commit("beef0002", "main", "2026-12-02T10:00:00Z");
    merge["event_type"] = json!("post-merge");
    merge["merge_source"] = json!("feature-x");
    merge["source_ref"] = json!("beef0002");
    let (status, answer) = post(&app, HOOK, &merge).await;
    assert_eq!(status, 200, "{answer}");
    let job = app
        .get_json("/api/v1/namespaces/lakefs%3A%2F%2Flake/jobs/main")
        .await;
    assert_eq!(
        job["latestRun"]["facets"]["lakefs"]["mergeSource"], "feature-x",
        "{job}"
    );

    // A tag on the first commit becomes a version tag; one on a commit Tributary never saw
    // records the commit first.
    let tag = |id: &str, tag: &str| {
        json!({
            "event_type": "post-create-tag",
            "event_time": "2026-12-03T10:00:00Z",
            "action_name": "Tributary lineage",
            "hook_id": "tributary",
            "repository_id": "lake",
            "source_ref": id,
            "commit_id": id,
            "tag_id": tag
        })
    };
    let (status, answer) = post(&app, HOOK, &tag("c0ffee01", "model-v1")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&app, HOOK, &tag("abad1dea", "audit-2026")).await;
    assert_eq!(status, 200, "{answer}");
    let expected = vec![
        ("abad1dea".to_string(), vec!["audit-2026".to_string()]),
        ("beef0002".to_string(), vec![]),
        ("c0ffee01".to_string(), vec!["model-v1".to_string()]),
    ];
    assert_eq!(versions(&app, "tables/orders").await, expected);
    assert_eq!(versions(&app, "tables/customers").await, expected);

    // The pre-merge gate: met, then not (a tag no version has), with the reason.
    let pre_merge = json!({
        "event_type": "pre-merge",
        "event_time": "2026-12-04T10:00:00Z",
        "action_name": "Tributary gate",
        "hook_id": "tributary_gate",
        "repository_id": "lake",
        "branch_id": "main",
        "merge_source": "feature-y",
        "source_ref": "f00d0003",
        "commit_id": "f00d0003",
        "commit_message": "Merge 'feature-y' into 'main'",
        "committer": "ds"
    });
    let gate = "/api/v1/integrations/lakefs?expect=lakefs://lake:tables/orders@model-v1&expect=lakefs://lake:tables/customers";
    let (status, answer) = post(&app, gate, &pre_merge).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["met"].as_array().unwrap().len(), 2, "{answer}");
    let gate = "/api/v1/integrations/lakefs?expect=lakefs://lake:tables/orders@model-v2&expect=lakefs://lake:tables/orders%23c0ffee01";
    let (status, answer) = post(&app, gate, &pre_merge).await;
    assert_eq!(status, 412, "{answer}");
    assert_eq!(
        answer["missing"][0]["expect"],
        "lakefs://lake:tables/orders@model-v2"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("no version is tagged 'model-v2'"),
        "{answer}"
    );
    assert_eq!(answer["met"].as_array().unwrap().len(), 1, "{answer}");
    // A gate with no expectations is a mistake in the action file, said so.
    let (status, answer) = post(&app, "/api/v1/integrations/lakefs", &pre_merge).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("expect="),
        "{answer}"
    );

    // Hooks Tributary does nothing on are answered 200 (lakeFS goes on); bad requests 400.
    let mut pre_commit = commit("x", "main", "2026-12-05T10:00:00Z");
    pre_commit["event_type"] = json!("pre-commit");
    let (status, answer) = post(&app, HOOK, &pre_commit).await;
    assert_eq!(
        (status, answer["ignored"].is_string()),
        (200, true),
        "{answer}"
    );
    let (status, answer) = post(
        &app,
        "/api/v1/integrations/lakefs",
        &commit("c0ffee09", "main", "2026-12-05T10:00:00Z"),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("path="),
        "{answer}"
    );
    let (status, _) = post(&app, HOOK, &json!({"event_type": "post-commit"})).await;
    assert_eq!(status, 400);
    let mut odd = commit("c0ffee01", "main", "2026-12-05T10:00:00Z");
    odd["repository_id"] = json!("../../etc");
    let (status, _) = post(&app, HOOK, &odd).await;
    assert_eq!(status, 400);
}

on_both_backends!(lakefs_commits_become_versions_and_tags_and_gate_merges);
