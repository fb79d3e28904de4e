//! `tributary sync dvc`: a DVC pipeline's `dvc.lock` as OpenLineage events. Each stage is a job;
//! each (commit, stage) a run with a deterministic id; each dependency and output a dataset whose
//! version is its content hash (the `version` dataset facet, so the stored version is DVC's own);
//! the stage's params and command a run facet; the commit the job's source-code location. With
//! `--history`, every committed version of `dvc.lock` (`git log -- dvc.lock`), oldest first. The
//! events are plain OpenLineage, so any server takes them; running the sync again sends the same
//! events, which the server counts as duplicates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::repro::Server;
use crate::config::Config;

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Send a DVC pipeline's runs (dvc.lock, and with --history every committed version of it).
    Dvc(DvcArgs),
    /// Send an MLflow tracking server's runs, their dataset inputs and registered model versions.
    Mlflow(super::sync_mlflow::MlflowArgs),
}

#[derive(Args)]
pub struct DvcArgs {
    /// The DVC repository (a git work tree with dvc.lock at its root).
    #[arg(default_value = ".")]
    repo: PathBuf,
    /// Every committed version of dvc.lock, oldest first, then the work tree's if it differs.
    #[arg(long)]
    history: bool,
    /// Namespace of the jobs and datasets (default dvc://<the repository's folder name>).
    #[arg(long)]
    namespace: Option<String>,
    #[command(flatten)]
    delivery: Delivery,
}

/// Where a bridge's events go: to a server, printed (`--dry-run`), or into a store (an explicit
/// `--database-url`).
#[derive(Args)]
pub struct Delivery {
    /// Where the events are posted (unless --dry-run, or --database-url names a store).
    #[command(flatten)]
    server: super::ServerUrl,
    /// Print the events as NDJSON instead of sending them.
    #[arg(long)]
    dry_run: bool,
}

impl Delivery {
    /// Whether the events went to a server (where Tributary's own API may follow up).
    pub fn posts(&self, direct: bool) -> bool {
        !self.dry_run && !direct
    }

    pub fn server(&self) -> &str {
        &self.server.server
    }

    /// Prints, stores or posts the events (`what` names where they came from); exit 1 when any
    /// was refused.
    pub async fn send(
        &self,
        config: &Config,
        direct: bool,
        what: &str,
        events: Vec<Value>,
    ) -> anyhow::Result<ExitCode> {
        if self.dry_run {
            for e in &events {
                println!("{e}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        if direct {
            let events = events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (format!("event {i}"), e))
                .collect();
            return super::import::store_values(config, what, events).await;
        }
        post(self.server(), &events).await
    }
}

/// `dvc.lock` (schema 2.0): stages with their command, dependencies, params and outputs.
#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    stages: BTreeMap<String, Stage>,
}

#[derive(Debug, Deserialize)]
struct Stage {
    #[serde(default)]
    cmd: Option<Value>,
    #[serde(default)]
    deps: Vec<Entry>,
    #[serde(default)]
    outs: Vec<Entry>,
    /// Params by file: `{"params.yaml": {"train.seed": 1}}`.
    #[serde(default)]
    params: BTreeMap<String, Value>,
}

/// A dependency or output: its path and content hash (`md5`, with `.dir` for a directory).
#[derive(Debug, Deserialize)]
struct Entry {
    path: String,
    #[serde(default)]
    md5: Option<String>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    nfiles: Option<u64>,
}

impl Entry {
    /// The content hash DVC recorded, whichever kind.
    fn hash(&self) -> Option<&str> {
        self.md5
            .as_deref()
            .or(self.etag.as_deref())
            .or(self.checksum.as_deref())
    }
}

/// One version of `dvc.lock`: where it came from and when.
struct LockVersion {
    /// The commit, or `None` for an uncommitted work tree.
    commit: Option<String>,
    /// ISO 8601: the commit's time, or the file's modification time.
    time: String,
    text: String,
}

const PRODUCER: &str = concat!("urn:tributary:sync-dvc:", env!("CARGO_PKG_VERSION"));
pub(super) const RUN_EVENT_SCHEMA: &str = RUN_EVENT;
const RUN_EVENT: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
pub(super) const VERSION_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";
pub(super) const LOCATION_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet";
pub(super) const JOB_TYPE_FACET: &str =
    "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
/// Where the `dvc` facets (stage command, params, hash details) are described.
const DVC_FACET: &str = "https://github.com/tributary/tributary/blob/main/README.md#dvc";

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The versions of `dvc.lock` to send, oldest first.
fn lock_versions(repo: &Path, history: bool) -> anyhow::Result<Vec<LockVersion>> {
    let path = repo.join("dvc.lock");
    let mut out = Vec::new();
    let is_git = git(repo, &["rev-parse", "--is-inside-work-tree"]).is_ok();
    if history && is_git {
        let log = git(
            repo,
            &["log", "--reverse", "--format=%H %cI", "--", "dvc.lock"],
        )?;
        for line in log.lines() {
            let (commit, time) = line
                .split_once(' ')
                .ok_or_else(|| anyhow!("unexpected git log line '{line}'"))?;
            let text = git(repo, &["show", &format!("{commit}:dvc.lock")])?;
            out.push(LockVersion {
                commit: Some(commit.to_string()),
                time: time.to_string(),
                text,
            });
        }
    }
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        // The work tree's dvc.lock: as HEAD committed it, or uncommitted changes of its own.
        let head = if is_git {
            git(repo, &["log", "-1", "--format=%H %cI", "--", "dvc.lock"])
                .ok()
                .and_then(|l| {
                    let (c, t) = l.trim().split_once(' ')?;
                    let committed = git(repo, &["show", &format!("{c}:dvc.lock")]).ok()?;
                    (committed == text).then(|| (c.to_string(), t.to_string()))
                })
        } else {
            None
        };
        match head {
            Some((commit, time)) => {
                if !out.iter().any(|v| v.commit.as_deref() == Some(&commit)) {
                    out.push(LockVersion {
                        commit: Some(commit),
                        time,
                        text,
                    });
                }
            }
            None => {
                let modified: chrono::DateTime<chrono::Utc> =
                    std::fs::metadata(&path)?.modified()?.into();
                out.push(LockVersion {
                    commit: None,
                    time: modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    text,
                });
            }
        }
    }
    if out.is_empty() {
        bail!("no dvc.lock in {} (run `dvc repro` first)", repo.display());
    }
    Ok(out)
}

/// A dataset of the pipeline, versioned by its content hash.
fn dataset(namespace: &str, e: &Entry) -> Value {
    let mut facets = Map::new();
    if let Some(hash) = e.hash() {
        facets.insert(
            "version".into(),
            json!({"_producer": PRODUCER, "_schemaURL": VERSION_FACET, "datasetVersion": hash}),
        );
    }
    let mut dvc = json!({"_producer": PRODUCER, "_schemaURL": DVC_FACET, "directory": e.hash().is_some_and(|h| h.ends_with(".dir"))});
    if let Some(size) = e.size {
        dvc["size"] = size.into();
    }
    if let Some(n) = e.nfiles {
        dvc["nfiles"] = n.into();
    }
    facets.insert("dvc".into(), dvc);
    json!({"namespace": namespace, "name": e.path, "facets": facets})
}

/// The events of one version of `dvc.lock`: one run per stage.
fn events_of(namespace: &str, origin: &str, version: &LockVersion) -> anyhow::Result<Vec<Value>> {
    let lock: Lock = yaml_serde::from_str(&version.text).with_context(|| {
        format!(
            "dvc.lock at {} is not a DVC lock file",
            version.commit.as_deref().unwrap_or("the work tree")
        )
    })?;
    // An uncommitted lock file is named by its content.
    let revision = match &version.commit {
        Some(c) => c.clone(),
        None => {
            use sha2::{Digest, Sha256};
            format!(
                "worktree-{}",
                hex::encode(Sha256::digest(version.text.as_bytes()))
            )
        }
    };
    let mut out = Vec::new();
    for (name, stage) in &lock.stages {
        let run_id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("dvc:{namespace}:{revision}:{name}").as_bytes(),
        );
        let mut job_facets = json!({
            "jobType": {"_producer": PRODUCER, "_schemaURL": JOB_TYPE_FACET,
                "processingType": "BATCH", "integration": "DVC", "jobType": "STAGE"},
        });
        if let Some(commit) = &version.commit {
            job_facets["sourceCodeLocation"] = json!({"_producer": PRODUCER, "_schemaURL": LOCATION_FACET,
                "type": "git", "url": origin, "version": commit, "path": "dvc.yaml"});
        }
        let mut dvc = json!({"_producer": PRODUCER, "_schemaURL": DVC_FACET, "stage": name});
        if let Some(cmd) = &stage.cmd {
            dvc["cmd"] = cmd.clone();
        }
        if !stage.params.is_empty() {
            dvc["params"] = json!(stage.params);
        }
        if let Some(commit) = &version.commit {
            dvc["commit"] = commit.as_str().into();
        }
        out.push(json!({
            "eventType": "COMPLETE",
            "eventTime": version.time,
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT,
            "run": {"runId": run_id, "facets": {"dvc": dvc}},
            "job": {"namespace": namespace, "name": name, "facets": job_facets},
            "inputs": stage.deps.iter().map(|e| dataset(namespace, e)).collect::<Vec<_>>(),
            "outputs": stage.outs.iter().map(|e| dataset(namespace, e)).collect::<Vec<_>>(),
        }));
    }
    Ok(out)
}

/// Where the repository lives, for the source-code location: its `origin` remote, else its path.
fn origin_of(repo: &Path) -> String {
    git(repo, &["remote", "get-url", "origin"])
        .map(|u| u.trim().to_string())
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let abs = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
            format!("file://{}", abs.display())
        })
}

pub async fn run(config: &Config, direct: bool, command: SyncCommand) -> anyhow::Result<ExitCode> {
    let args = match command {
        SyncCommand::Dvc(args) => args,
        SyncCommand::Mlflow(args) => return super::sync_mlflow::run(config, direct, args).await,
    };
    let repo = &args.repo;
    let namespace = args.namespace.clone().unwrap_or_else(|| {
        let name = repo
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "repository".into());
        format!("dvc://{name}")
    });
    let origin = origin_of(repo);
    let mut events = Vec::new();
    for version in lock_versions(repo, args.history)? {
        events.extend(events_of(&namespace, &origin, &version)?);
    }
    let what = format!("dvc.lock of {}", repo.display());
    args.delivery.send(config, direct, &what, events).await
}

/// Posts the events in batches; exit 1 when the server refuses any.
async fn post(server: &str, events: &[Value]) -> anyhow::Result<ExitCode> {
    let server = Server::at(server).await?;
    let (mut stored, mut refused) = (0u64, 0u64);
    for chunk in events.chunks(500) {
        let body = serde_json::to_vec(chunk)?;
        let r = server.post_json("/api/v1/lineage/batch", &body).await?;
        let answer = r.json();
        match r.status {
            200 | 207 | 400 if answer.get("summary").is_some() => {
                stored += answer["summary"]["successful"].as_u64().unwrap_or(0);
                refused += answer["summary"]["failed"].as_u64().unwrap_or(0);
                for f in answer["failed_events"].as_array().into_iter().flatten() {
                    eprintln!("refused: {}", f["reason"].as_str().unwrap_or("?"));
                }
            }
            status => bail!(
                "the server answered {status}: {}",
                super::repro::message(&r)
            ),
        }
    }
    println!(
        "sent {} events: {stored} accepted (stored or already there), {refused} refused",
        events.len()
    );
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py data/raw.csv
    deps:
    - path: data/raw.csv
      hash: md5
      md5: 1a2b3c
      size: 120
    params:
      params.yaml:
        prepare.split: 0.2
    outs:
    - path: data/prepared
      hash: md5
      md5: 4d5e6f.dir
      size: 99
      nfiles: 2
  train:
    cmd: python src/train.py
    deps:
    - path: data/prepared
      hash: md5
      md5: 4d5e6f.dir
    outs:
    - path: model.pkl
      hash: md5
      md5: 778899
";

    #[test]
    fn each_stage_is_a_run_with_hash_versions() {
        let v = LockVersion {
            commit: Some("abc123".into()),
            time: "2024-05-01T10:00:00Z".into(),
            text: LOCK.into(),
        };
        let events = events_of("dvc://demo", "https://git.example/demo.git", &v).unwrap();
        assert_eq!(events.len(), 2);
        let prepare = &events[0];
        assert_eq!(prepare["job"]["name"], "prepare");
        assert_eq!(prepare["inputs"][0]["name"], "data/raw.csv");
        assert_eq!(
            prepare["inputs"][0]["facets"]["version"]["datasetVersion"],
            "1a2b3c"
        );
        assert_eq!(prepare["outputs"][0]["facets"]["dvc"]["directory"], true);
        assert_eq!(
            prepare["run"]["facets"]["dvc"]["params"]["params.yaml"]["prepare.split"],
            0.2
        );
        assert_eq!(
            prepare["job"]["facets"]["sourceCodeLocation"]["version"],
            "abc123"
        );
        // The same commit and stage: the same run, every time.
        let again = events_of("dvc://demo", "x", &v).unwrap();
        assert_eq!(again[1]["run"]["runId"], events[1]["run"]["runId"]);
        assert_ne!(events[0]["run"]["runId"], events[1]["run"]["runId"]);
    }

    #[test]
    fn a_file_that_is_not_a_lock_file_is_refused() {
        let v = LockVersion {
            commit: None,
            time: "2024-05-01T10:00:00Z".into(),
            text: "stages: [1, 2".into(),
        };
        assert!(events_of("ns", "o", &v).is_err());
    }
}
