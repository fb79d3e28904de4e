//! lakeFS in: an action webhook's request (`post-commit`, `post-merge`, `post-create-tag`,
//! `pre-merge`), as lakeFS sends it, and the OpenLineage event that records a commit as a new
//! version of the datasets under the repository paths the action names.
//!
//! A dataset is one repository path whatever the ref (namespace `lakefs://<repository>`, name
//! the path); its version is the commit id. The commit is a run of the job named after the
//! branch it landed on, so lineage shows which branch wrote which version; the run id is derived
//! from the repository and the commit, so a webhook delivered twice records nothing new.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

const PRODUCER: &str = concat!("urn:tributary:lakefs:", env!("CARGO_PKG_VERSION"));
const RUN_EVENT: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const VERSION_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";
const JOB_TYPE_FACET: &str =
    "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
const LAKEFS_FACET: &str = "https://github.com/tributary/tributary/blob/main/README.md#lakefs";

/// What lakeFS posts to a webhook (its `EventInfo`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Hook {
    pub event_type: String,
    #[serde(default)]
    pub event_time: Option<String>,
    pub repository_id: String,
    #[serde(default)]
    pub branch_id: Option<String>,
    #[serde(default)]
    pub source_ref: Option<String>,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub tag_id: Option<String>,
    #[serde(default)]
    pub merge_source: Option<String>,
    #[serde(default)]
    pub commit_message: Option<String>,
    #[serde(default)]
    pub committer: Option<String>,
    #[serde(default)]
    pub commit_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub action_name: Option<String>,
    #[serde(default)]
    pub hook_id: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Hook {
    /// The dataset namespace of the repository.
    pub fn namespace(&self) -> String {
        format!("lakefs://{}", self.repository_id)
    }

    /// The commit the hook is about: `commit_id`, else `source_ref` (which lakeFS sets to the
    /// commit for post-commit and tag hooks).
    pub fn commit(&self) -> Option<&str> {
        non_empty(&self.commit_id).or_else(|| non_empty(&self.source_ref))
    }

    /// What is wrong with the hook for recording a commit, if anything.
    pub fn check(&self) -> Result<(), String> {
        let id_like = |s: &str| {
            !s.is_empty()
                && s.len() <= 255
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !id_like(&self.repository_id) {
            return Err("repository_id is not a lakeFS repository id".into());
        }
        match self.commit() {
            Some(c) if id_like(c) => Ok(()),
            Some(_) => Err("commit_id is not a lakeFS commit id".into()),
            None => Err(format!(
                "a {} hook without commit_id or source_ref names no commit",
                self.event_type
            )),
        }
    }

    /// The OpenLineage event recording the hook's commit as a new version of each of `paths`.
    pub fn event(&self, paths: &[String], now: &str) -> Value {
        let namespace = self.namespace();
        let commit = self.commit().unwrap_or_default();
        let branch = non_empty(&self.branch_id);
        let run_id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("{namespace}/commits/{commit}").as_bytes(),
        );
        let merge = self.event_type.ends_with("merge");
        let mut lakefs = json!({
            "_producer": PRODUCER,
            "_schemaURL": LAKEFS_FACET,
            "repository": self.repository_id,
            "commit": commit,
            "eventType": self.event_type,
        });
        for (key, value) in [
            ("branch", &self.branch_id),
            ("mergeSource", &self.merge_source),
            ("message", &self.commit_message),
            ("committer", &self.committer),
            ("tag", &self.tag_id),
        ] {
            if let Some(v) = non_empty(value) {
                lakefs[key] = v.into();
            }
        }
        if let Some(m) = self.commit_metadata.as_ref().filter(|m| !m.is_empty()) {
            lakefs["metadata"] = json!(m);
        }
        let outputs: Vec<Value> = paths
            .iter()
            .map(|p| {
                json!({
                    "namespace": namespace,
                    "name": p,
                    "facets": {"version": {"_producer": PRODUCER, "_schemaURL": VERSION_FACET, "datasetVersion": commit}},
                })
            })
            .collect();
        json!({
            "eventType": "COMPLETE",
            "eventTime": non_empty(&self.event_time).unwrap_or(now),
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT,
            "run": {"runId": run_id.to_string(), "facets": {"lakefs": lakefs}},
            "job": {
                "namespace": namespace,
                // Commits land on a branch; a tag names a commit without one.
                "name": branch.unwrap_or("tags"),
                "facets": {"jobType": {
                    "_producer": PRODUCER,
                    "_schemaURL": JOB_TYPE_FACET,
                    "processingType": "BATCH",
                    "integration": "LAKEFS",
                    "jobType": if merge { "MERGE" } else { "COMMIT" },
                }},
            },
            "inputs": [],
            "outputs": outputs,
        })
    }
}

/// The repository paths an action names (`?path=tables/orders&path=tables/customers`): each
/// trimmed of slashes, empty ones dropped, each once.
pub fn paths(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let p = v.trim().trim_matches('/').to_string();
        if !p.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post_commit() -> Hook {
        serde_json::from_value(json!({
            "event_type": "post-commit",
            "event_time": "2026-12-01T10:00:00Z",
            "action_name": "Tributary",
            "hook_id": "tributary",
            "repository_id": "lake",
            "branch_id": "main",
            "source_ref": "a1b2c3d4e5f6",
            "commit_id": "a1b2c3d4e5f6",
            "commit_message": "daily load",
            "committer": "etl",
            "commit_metadata": {"airflow_run": "scheduled__2026-12-01"}
        }))
        .unwrap()
    }

    #[test]
    fn a_commit_is_a_version_of_every_named_path() {
        let hook = post_commit();
        assert_eq!(hook.check(), Ok(()));
        let e = hook.event(
            &paths(&["/tables/orders/".into(), "tables/users".into()]),
            "x",
        );
        assert_eq!(e["job"]["namespace"], "lakefs://lake");
        assert_eq!(e["job"]["name"], "main");
        assert_eq!(e["eventTime"], "2026-12-01T10:00:00Z");
        let names: Vec<&str> = e["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["tables/orders", "tables/users"]);
        assert_eq!(
            e["outputs"][0]["facets"]["version"]["datasetVersion"],
            "a1b2c3d4e5f6"
        );
        assert_eq!(
            e["run"]["facets"]["lakefs"]["metadata"]["airflow_run"],
            "scheduled__2026-12-01"
        );
        // The same commit is the same run, however often it is delivered.
        assert_eq!(hook.event(&[], "y")["run"]["runId"], e["run"]["runId"]);
    }

    #[test]
    fn a_hook_without_a_commit_or_with_a_strange_id_is_refused() {
        let mut hook = post_commit();
        hook.commit_id = None;
        hook.source_ref = Some(" ".into());
        assert!(hook.check().unwrap_err().contains("names no commit"));
        let mut hook = post_commit();
        hook.repository_id = "../etc".into();
        assert!(hook.check().is_err());
    }

    #[test]
    fn a_tag_hook_names_its_commit_by_source_ref() {
        let hook: Hook = serde_json::from_value(json!({
            "event_type": "post-create-tag",
            "repository_id": "lake",
            "source_ref": "a1b2c3",
            "tag_id": "v1.0.0"
        }))
        .unwrap();
        assert_eq!(hook.commit(), Some("a1b2c3"));
        let e = hook.event(&["t".into()], "2026-12-02T00:00:00Z");
        assert_eq!(e["job"]["name"], "tags");
        assert_eq!(e["eventTime"], "2026-12-02T00:00:00Z");
    }
}
