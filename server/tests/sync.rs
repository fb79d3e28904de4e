//! `tributary sync dvc` over a real git history: a two-stage DVC pipeline whose `dvc.lock` was
//! committed twice (the raw data changed in between) arrives as versioned lineage, through a
//! server and straight into a store; sending it again adds nothing.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::{tributary, Db, TestApp, TestDb};

/// `dvc.lock` as `dvc repro` writes it: prepare (raw → features) and train (features → model).
fn lock(raw: &str, features: &str, model: &str) -> String {
    format!(
        "schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py data/raw.csv
    deps:
    - path: data/raw.csv
      hash: md5
      md5: {raw}
      size: 14445
    - path: src/prepare.py
      hash: md5
      md5: 0f0e0d0c
    outs:
    - path: data/features
      hash: md5
      md5: {features}.dir
      size: 8437
      nfiles: 2
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
    - path: data/features
      hash: md5
      md5: {features}.dir
    params:
      params.yaml:
        train.epochs: 10
        train.seed: 20170428
    outs:
    - path: model.pkl
      hash: md5
      md5: {model}
"
    )
}

/// A string field of every item of a JSON array (items without it are skipped).
fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter_map(|item| item[field].as_str())
        .collect()
}

fn git(dir: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_NAME", "Data Scientist")
        .env("GIT_AUTHOR_EMAIL", "ds@example.com")
        .env("GIT_COMMITTER_NAME", "Data Scientist")
        .env("GIT_COMMITTER_EMAIL", "ds@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository whose dvc.lock was committed twice: then the raw data changed.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q"], "2024-05-01T10:00:00Z");
    std::fs::write(p.join("dvc.lock"), lock("aaaa1111", "bbbb2222", "cccc3333")).unwrap();
    git(p, &["add", "dvc.lock"], "2024-05-01T10:00:00Z");
    git(
        p,
        &["commit", "-q", "-m", "first model"],
        "2024-05-01T10:00:00Z",
    );
    std::fs::write(p.join("dvc.lock"), lock("aaaa9999", "bbbb8888", "cccc7777")).unwrap();
    git(
        p,
        &["commit", "-q", "-am", "new raw data"],
        "2024-06-01T10:00:00Z",
    );
    dir
}

fn sync(db: &TestDb, args: &[&str], server: Option<&str>) -> std::process::Output {
    let mut cmd = tributary(db);
    cmd.arg("sync").arg("dvc").args(args);
    if let Some(s) = server {
        cmd.env("TRIBUTARY_SERVER", s);
    }
    cmd.env_remove("TRIBUTARY_API_KEY");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn the_pipeline_history_arrives_as_versioned_lineage(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let repo = repository();
    let path = repo.path().to_str().unwrap();

    // A dry run prints the events: two commits × two stages, the same every time.
    let dry = sync(
        &app.db,
        &[path, "--history", "--namespace", "ml", "--dry-run"],
        None,
    );
    let events: Vec<Value> = String::from_utf8(dry.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4);
    assert_eq!(events[0]["eventTime"], "2024-05-01T10:00:00Z");
    assert_eq!(events[3]["eventTime"], "2024-06-01T10:00:00Z");
    assert_eq!(events[3]["job"]["name"], "train");
    assert_eq!(
        events[3]["run"]["facets"]["dvc"]["params"]["params.yaml"]["train.seed"],
        20170428
    );
    let again = sync(
        &app.db,
        &[path, "--history", "--namespace", "ml", "--dry-run"],
        None,
    );
    assert_eq!(
        dry.stdout, again.stdout,
        "run ids and times are deterministic"
    );

    // Sent to the server: every run stored, each output versioned by its DVC hash.
    let server = format!("http://{}", app.addr);
    sync(
        &app.db,
        &[path, "--history", "--namespace", "ml"],
        Some(&server),
    );
    assert_eq!(app.event_count().await, 4);
    let versions = app
        .get_json("/api/v1/namespaces/ml/datasets/data%2Ffeatures/versions")
        .await;
    let mut producer: Vec<&str> = strings(&versions["versions"], "producerVersion");
    producer.sort();
    assert_eq!(producer, ["bbbb2222.dir", "bbbb8888.dir"], "{versions}");
    let model = app
        .get_json("/api/v1/namespaces/ml/datasets/model.pkl/versions")
        .await;
    assert_eq!(model["versions"].as_array().unwrap().len(), 2);

    // The model traces back to the raw data through both stages.
    let lineage = app
        .get_json("/api/v1/lineage?nodeId=dataset:ml:model.pkl&direction=UPSTREAM&depth=10")
        .await;
    let ids: Vec<&str> = strings(&lineage["graph"], "id");
    for id in [
        "job:ml:train",
        "dataset:ml:data/features",
        "job:ml:prepare",
        "dataset:ml:data/raw.csv",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    // The newest model's manifest names the exact DVC hashes it was trained on, and (a level
    // up) the raw data's.
    let newest = model["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["producerVersion"] == "cccc7777")
        .unwrap_or_else(|| panic!("{model}"));
    let run = newest["createdByRun"]["id"].as_str().unwrap();
    let manifest = app
        .get_json(&format!("/api/v1/jobs/runs/{run}/manifest?depth=1"))
        .await;
    let input = |m: &Value, name: &str| {
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["producerVersion"].clone())
    };
    assert_eq!(
        input(&manifest, "data/features"),
        Some(Value::from("bbbb8888.dir")),
        "{manifest}"
    );
    assert_eq!(
        input(&manifest["upstream"][0], "data/raw.csv"),
        Some(Value::from("aaaa9999")),
        "{manifest}"
    );

    // `reproduce` of the first model: the DVC checkouts that bring its exact data back.
    let first_commit = String::from_utf8(
        Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(["rev-parse", "HEAD~1"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let out = tributary(&app.db)
        .args(["reproduce", "ml:model.pkl@cccc3333", "--server", &server])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        format!("git checkout {first_commit} && dvc checkout data/features"),
        format!("git checkout {first_commit} && dvc checkout data/raw.csv"),
        "EXACT     dataset:ml:data/raw.csv @ aaaa1111 [dvc]".to_string(),
    ] {
        assert!(text.contains(&line), "{line} not in\n{text}");
    }

    // The train job's source is the commit.
    let job = app.get_json("/api/v1/namespaces/ml/jobs/train").await;
    assert_eq!(
        job["location"].as_str().map(|l| l.starts_with("file://")),
        Some(true),
        "{job}"
    );

    // Again: nothing new.
    let out = sync(
        &app.db,
        &[path, "--history", "--namespace", "ml"],
        Some(&server),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 accepted"));
    assert_eq!(app.event_count().await, 4);
}

async fn with_a_database_url_the_events_go_straight_into_the_store(db: Db) {
    let Some(test_db) = TestDb::create(db).await else {
        return;
    };
    let repo = repository();
    let path = repo.path().to_str().unwrap();
    let url = test_db.url.clone();
    let first = sync(&test_db, &["--database-url", &url, path, "--history"], None);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("4 events stored"), "{text}");
    // Only the work tree's dvc.lock (the last commit's): already there.
    let second = sync(&test_db, &["--database-url", &url, path], None);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("0 events stored, 2 duplicates skipped"),
        "{text}"
    );
    let app = TestApp::start(test_db, |_| {}).await;
    let name = repo.path().file_name().unwrap().to_str().unwrap();
    let job = app
        .get_json(&format!("/api/v1/namespaces/dvc:%2F%2F{name}/jobs/prepare"))
        .await;
    assert_eq!(job["name"], "prepare");
}

/// Behind an HTTPS proxy with a private CA: refused until the CA is named (TRIBUTARY_CA_CERT),
/// then delivered; `TRIBUTARY_INSECURE_TLS` skips the check; a base path is kept in front of the
/// API's paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_behind_https_is_reached_through_its_ca() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let proxy = common::TlsProxy::start(app.addr).await;
    let repo = repository();
    let path = repo.path().to_str().unwrap();
    let url = format!("https://127.0.0.1:{}", proxy.addr.port());
    let attempt = |env: &[(&str, &str)], url: &str| {
        let mut cmd = tributary(&app.db);
        cmd.args(["sync", "dvc", path, "--history", "--server", url])
            .env_remove("TRIBUTARY_API_KEY")
            .env_remove("TRIBUTARY_CA_CERT")
            .env_remove("TRIBUTARY_INSECURE_TLS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    let untrusted = attempt(&[], &url);
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success());
    assert!(
        err.contains(&format!("cannot reach the server at {url}")) && err.contains("certificate"),
        "{err}"
    );
    assert_eq!(app.event_count().await, 0);

    let ca = proxy.ca.to_str().unwrap();
    let trusted = attempt(&[("TRIBUTARY_CA_CERT", ca)], &url);
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(String::from_utf8_lossy(&trusted.stdout).contains("4 accepted"));
    assert_eq!(app.event_count().await, 4);

    // Again without checks: delivered, and nothing new.
    let insecure = attempt(&[("TRIBUTARY_INSECURE_TLS", "true")], &url);
    assert!(
        insecure.status.success(),
        "{}",
        String::from_utf8_lossy(&insecure.stderr)
    );
    assert_eq!(app.event_count().await, 4);

    // A base path goes in front of every request: this server has none, so /prefix/api/… is 404.
    let prefixed = attempt(&[("TRIBUTARY_CA_CERT", ca)], &format!("{url}/prefix"));
    assert!(!prefixed.status.success());
    let err = String::from_utf8_lossy(&prefixed.stderr);
    assert!(err.contains("404"), "{err}");

    let garbage = attempt(&[], "ftp://127.0.0.1:1");
    let err = String::from_utf8_lossy(&garbage.stderr);
    assert!(err.contains("must start with http:// or https://"), "{err}");
}

/// Runs a command in `dir` with a fixed git identity and date; insists it succeeds.
fn run_in(dir: &Path, program: &str, args: &[&str], date: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_NAME", "Data Scientist")
        .env("GIT_AUTHOR_EMAIL", "ds@example.com")
        .env("GIT_COMMITTER_NAME", "Data Scientist")
        .env("GIT_COMMITTER_EMAIL", "ds@example.com")
        .env("DVC_NO_ANALYTICS", "1")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn md5_of(path: &Path) -> String {
    let out = Command::new("md5sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_string()
}

/// With the real DVC (`TRIBUTARY_DVC` names its binary; `.ci/run` installs it): a two-stage
/// pipeline run with `dvc repro`, the raw data changed and reproduced again. After `sync dvc
/// --history`, `reproduce` of the first model prints checkout commands that, run in the
/// repository, bring back files whose hashes are the manifest's; the first training's inputs
/// show as changed since.
async fn a_real_dvc_pipeline_comes_back_exactly(db: Db) {
    let Ok(dvc) = std::env::var("TRIBUTARY_DVC") else {
        eprintln!("skipped: TRIBUTARY_DVC is not set");
        return;
    };
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (first, second) = ("2024-05-01T10:00:00Z", "2024-06-01T10:00:00Z");
    run_in(p, "git", &["init", "-q"], first);
    run_in(p, &dvc, &["init", "-q"], first);
    std::fs::create_dir(p.join("data")).unwrap();
    std::fs::write(p.join("data/raw.csv"), "b,2\na,1\n").unwrap();
    std::fs::write(
        p.join("dvc.yaml"),
        "stages:
  prepare:
    cmd: mkdir -p data/features && sort data/raw.csv > data/features/sorted.csv && wc -l < data/raw.csv > data/features/count.txt
    deps: [data/raw.csv]
    outs: [data/features]
  train:
    cmd: cat data/features/sorted.csv data/features/count.txt > model.pkl
    deps: [data/features]
    outs: [model.pkl]
",
    )
    .unwrap();
    run_in(p, &dvc, &["add", "-q", "data/raw.csv"], first);
    run_in(p, &dvc, &["repro", "-q"], first);
    run_in(p, "git", &["add", "-A"], first);
    run_in(p, "git", &["commit", "-q", "-m", "first model"], first);
    let first_raw = md5_of(&p.join("data/raw.csv"));
    let first_model = md5_of(&p.join("model.pkl"));
    std::fs::write(p.join("data/raw.csv"), "c,3\nb,2\na,1\n").unwrap();
    run_in(p, &dvc, &["add", "-q", "data/raw.csv"], second);
    run_in(p, &dvc, &["repro", "-q"], second);
    run_in(p, "git", &["add", "-A"], second);
    run_in(p, "git", &["commit", "-q", "-m", "new raw data"], second);
    assert_ne!(md5_of(&p.join("data/raw.csv")), first_raw);

    let server = format!("http://{}", app.addr);
    sync(
        &app.db,
        &[p.to_str().unwrap(), "--history", "--namespace", "ml"],
        Some(&server),
    );
    let out = tributary(&app.db)
        .args([
            "reproduce",
            &format!("ml:model.pkl@{first_model}"),
            "--json",
            "--server",
            &server,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let raw = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "data/raw.csv")
        .unwrap_or_else(|| panic!("{r}"))
        .clone();
    assert_eq!(raw["producerVersion"], first_raw.as_str(), "{r}");
    // Run the printed command (with this DVC on the PATH): the first raw data comes back, byte
    // for byte.
    let bin = Path::new(&dvc).parent().unwrap().display().to_string();
    let command = format!("PATH=\"{bin}:$PATH\"; {}", raw["command"].as_str().unwrap());
    run_in(p, "sh", &["-c", &command], second);
    assert_eq!(md5_of(&p.join("data/raw.csv")), first_raw);

    // What changed since the first training: the features it read.
    let changed = app
        .get_json(&format!(
            "/api/v1/jobs/runs/{}/changed-inputs",
            r["manifest"]["runId"].as_str().unwrap()
        ))
        .await;
    let ids: Vec<&str> = strings(&changed["changedInputs"], "datasetId");
    assert_eq!(ids, ["dataset:ml:data/features"], "{changed}");

    // The storage gate, run in the repository (its cache and remotes are where it looks): the
    // features the first model was trained on, a directory, are still in the DVC cache ...
    let first_features = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "data/features")
        .and_then(|i| i["producerVersion"].as_str())
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    assert!(first_features.ends_with(".dir"), "{first_features}");
    let gate = |expect: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args([
                "check",
                "--storage",
                "--expect",
                expect,
                "--server",
                &server,
            ])
            .current_dir(p)
            .env_remove("TRIBUTARY_API_KEY")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), text)
    };
    let old = format!("ml:data/features#{first_features}");
    let (ok, text) = gate(&old);
    assert!(ok, "{text}");
    assert!(
        text.contains("DVC directory") && text.contains("files present"),
        "{text}"
    );
    // Pushed to a local remote, they survive `dvc gc` of the cache (back on the latest commit,
    // keeping only what the workspace uses): the gate finds them in the remote the
    // repository's configuration names ...
    let remote = tempfile::tempdir().unwrap();
    let remote_path = remote.path().to_str().unwrap();
    run_in(
        p,
        &dvc,
        &["remote", "add", "-d", "store", remote_path],
        second,
    );
    run_in(p, &dvc, &["push", "-q"], second);
    run_in(p, "git", &["checkout", "-q", "-"], second);
    run_in(p, &dvc, &["gc", "-w", "-f", "-q"], second);
    let (ok, text) = gate(&old);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("in {remote_path}")), "{text}");
    // ... until `dvc gc --cloud` takes them from the remote too: then the gate fails, naming
    // them, and the current features still pass.
    run_in(p, &dvc, &["gc", "-w", "-c", "-f", "-q"], second);
    let (ok, text) = gate(&old);
    assert!(!ok, "{text}");
    assert!(
        text.contains("MISSING") && text.contains(&first_features) && text.contains("dvc gc"),
        "{text}"
    );
    let (ok, text) = gate("ml:data/features");
    assert!(ok, "{text}");
}

/// With a real MLflow (`TRIBUTARY_MLFLOW` names its `mlflow` binary; `.ci/run` installs it): a
/// tracking server on SQLite, a training script that logs a Delta input and a pandas frame and
/// registers the model twice. After `sync mlflow`, the model's versions 1 and 2 are bound to
/// Delta versions 7 and 8, the alias is a version tag, and `reproduce` names the Delta query and
/// exits 1 for the frame only MLflow's digest names.
async fn a_real_mlflow_server_comes_through(db: Db) {
    let Ok(mlflow) = std::env::var("TRIBUTARY_MLFLOW") else {
        eprintln!("skipped: TRIBUTARY_MLFLOW is not set");
        return;
    };
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("mlflow.log")).unwrap();
    let server = Command::new(&mlflow)
        .args([
            "server",
            "--backend-store-uri",
            &format!("sqlite:///{}", dir.path().join("mlflow.db").display()),
            "--default-artifact-root",
            &format!("file://{}", dir.path().join("artifacts").display()),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "1",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        // Its own process group: `mlflow server` starts uvicorn and job consumers that outlive
        // it unless the whole group is stopped.
        .process_group(0)
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let group = format!("-{}", self.0.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.0.wait();
        }
    }
    let _stop = Stop(server);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let uri = format!("http://{addr}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let up = tributary::cli::client::request(addr, "GET", "/health", &[], b"").await;
        if up.is_ok_and(|r| r.status == 200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mlflow server did not start: {}",
            std::fs::read_to_string(dir.path().join("mlflow.log")).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let python = Path::new(&mlflow).parent().unwrap().join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/mlflow_train.py");
    let trained = run_in(
        dir.path(),
        python.to_str().unwrap(),
        &[script.to_str().unwrap(), &uri],
        "2024-05-01T10:00:00Z",
    );
    let run_ids = trained
        .lines()
        .filter(|l| l.len() == 32 && l.bytes().all(|b| b.is_ascii_hexdigit()))
        .count();
    assert_eq!(run_ids, 3, "{trained}");

    let server_url = format!("http://{}", app.addr);
    // Read over HTTPS, as hosted MLflow is: through a TLS proxy with a private CA.
    let tls = common::TlsProxy::start(addr).await;
    let https_uri = format!("https://127.0.0.1:{}", tls.addr.port());
    let args = [
        "sync",
        "mlflow",
        "--tracking-uri",
        &https_uri,
        "--namespace",
        "ml",
    ];
    let sync_mlflow = || {
        let out = tributary(&app.db)
            .args(args)
            .env("TRIBUTARY_SERVER", &server_url)
            .env("MLFLOW_TRACKING_SERVER_CERT_PATH", &tls.ca)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sync_mlflow();
    let stored = app.event_count().await;
    assert!(stored >= 2, "{stored}");
    let versions = app
        .get_json("/api/v1/namespaces/ml/datasets/churn/versions")
        .await;
    let by_number = |n: &str| {
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["producerVersion"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("version {n} in {versions}"))
    };
    assert_eq!(
        by_number("2")["versionTags"],
        serde_json::json!(["champion"])
    );
    assert_eq!(by_number("1")["versionTags"], serde_json::json!([]));

    for (model, delta) in [("1", "7"), ("2", "8")] {
        let out = tributary(&app.db)
            .args([
                "reproduce",
                &format!("ml:churn@{model}"),
                "--server",
                &server_url,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the frame has only a digest: {text}"
        );
        assert!(
            text.contains(&format!(
                "SELECT * FROM delta.`s3://lake/orders` VERSION AS OF {delta}"
            )),
            "{text}"
        );
        assert!(text.contains("NOT EXACT dataset:ml:features"), "{text}");
    }
    // The model logged but never registered is an output too, versioned by its model id.
    let candidate = app
        .get_json("/api/v1/namespaces/ml/datasets/candidate/versions")
        .await;
    let ids: Vec<&str> = strings(&candidate["versions"], "producerVersion");
    assert_eq!(ids.len(), 1, "{candidate}");
    assert!(ids[0].starts_with("m-"), "{candidate}");

    // Again: nothing new.
    sync_mlflow();
    assert_eq!(app.event_count().await, stored);
}

on_both_backends!(
    a_real_mlflow_server_comes_through,
    a_real_dvc_pipeline_comes_back_exactly,
    the_pipeline_history_arrives_as_versioned_lineage,
    with_a_database_url_the_events_go_straight_into_the_store,
);
