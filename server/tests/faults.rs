//! Faults: what the server does when the disk fills up or the database goes away. A 2xx must
//! mean committed whatever fails, failures must answer fast with a 5xx, and the server must heal
//! by itself when the cause goes away.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run_event, serve, TestDb};
use serde_json::{json, Value};
use tributary::cli::client;

/// A small tmpfs mounted for one test (needs root, as CI has); unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// A tmpfs of `megabytes`, or `None` (with a note) where mounting is not allowed. Under CI
    /// (`CI` set) a refusal fails the test: the fault must be exercised there.
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs for the disk-full test"
            );
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A distinct event of a few kilobytes (a wide schema), so the disk fills in a few hundred.
fn big_event(i: usize) -> Value {
    let fields: Vec<Value> = (0..60)
        .map(|f| json!({"name": format!("column_{i}_{f}"), "type": "varchar", "description": format!("field {f} of table {i}, described at some length so the row is wide")}))
        .collect();
    run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        &uuid::Uuid::new_v4().to_string(),
        &format!("job_{i}"),
        json!([{"namespace": "db", "name": "raw.source"}]),
        json!([{"namespace": "db", "name": format!("out.table_{i}"), "facets": {"schema": {
            "_producer": "https://example.com/tests",
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": fields}}}]),
    )
}

async fn post(addr: SocketAddr, event: &Value) -> client::Response {
    client::request(
        addr,
        "POST",
        "/api/v1/lineage",
        &[("Content-Type", "application/json")],
        event.to_string().as_bytes(),
    )
    .await
    .expect("the server answers")
}

async fn status_of(addr: SocketAddr, path: &str) -> u16 {
    client::request(addr, "GET", path, &[], b"")
        .await
        .expect("the server answers")
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_acknowledges_only_what_it_committed_and_heals() {
    let Some(disk) = SmallDisk::mount(8) else {
        return;
    };
    // Ballast to free later, so that the server can be seen to heal by itself.
    let ballast: PathBuf = disk.path().join("ballast");
    std::fs::write(&ballast, vec![7u8; 2 * 1024 * 1024]).unwrap();
    let db = TestDb::borrowed(&format!(
        "sqlite://{}",
        disk.path().join("tributary.db").display()
    ));
    let (mut child, addr) = serve(&db);

    let mut acked = Vec::new();
    let mut refused = 0;
    let mut i = 0;
    while refused < 30 && i < 5_000 {
        let r = post(addr, &big_event(i)).await;
        match r.status {
            201 => acked.push(i),
            503 => {
                assert!(
                    r.headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("retry-after")),
                    "a 503 says when to retry"
                );
                let body = String::from_utf8_lossy(&r.body);
                assert!(!body.contains("SQL"), "no internals leak: {body}");
                refused += 1;
            }
            other => panic!("event {i}: {other} {}", String::from_utf8_lossy(&r.body)),
        }
        i += 1;
    }
    assert_eq!(refused, 30, "the disk never filled up after {i} events");
    assert!(acked.len() > 10, "too few events fit: {}", acked.len());

    // Room again: the same server takes events without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let mut healed = false;
    for attempt in 0..50 {
        let r = post(addr, &big_event(100_000 + attempt)).await;
        if r.status == 201 {
            acked.push(100_000 + attempt);
            healed = true;
            break;
        }
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "the server did not heal once the disk had room");
    for j in 0..20 {
        let r = post(addr, &big_event(200_000 + j)).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        acked.push(200_000 + j);
    }

    // Everything acknowledged survives a hard kill.
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, addr) = serve(&db);
    let mut lost = Vec::new();
    for i in &acked {
        if status_of(addr, &format!("/api/v1/namespaces/tests/jobs/job_{i}")).await != 200 {
            lost.push(*i);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "disk full: {} acknowledged, {refused} refused with 503, {} lost after kill -9",
        acked.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
}

/// A Postgres cluster of this test's own (made with `initdb`, run by `pg_ctl` as the `postgres`
/// user on a free port), so that stopping it leaves the shared server alone. Stopped and
/// removed when dropped.
struct PrivateCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivateCluster {
    /// A running cluster, or `None` (with a note) where one cannot be made; under CI a failure.
    fn start() -> Option<PrivateCluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path().join("bin"));
        let made = bin.filter(|b| b.join("initdb").exists()).and_then(|bin| {
            let dir = tempfile::tempdir().ok()?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let as_postgres = |args: &[&str]| {
                Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .args(args)
                    .stdout(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            let path = dir.path().to_str()?.to_string();
            Command::new("chown")
                .args(["postgres:postgres", &path])
                .status()
                .ok()?
                .success()
                .then_some(())?;
            let initdb = bin.join("initdb");
            as_postgres(&[
                initdb.to_str()?,
                "-D",
                &path,
                "-A",
                "trust",
                "-U",
                "postgres",
            ])
            .then_some(())?;
            let cluster = PrivateCluster { dir, bin, port };
            cluster.pg_ctl_start().then_some(cluster)
        });
        if made.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to run a private Postgres cluster (initdb, pg_ctl as postgres)"
            );
            eprintln!("skipped: cannot make a private Postgres cluster here");
        }
        made
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn pg_ctl_start(&self) -> bool {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&["-w", "-t", "60", "-o", &options, "-l", "/dev/null", "start"])
    }

    fn stop(&self) {
        assert!(self.pg_ctl(&["-w", "-m", "fast", "stop"]), "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

fn small_event(job: &str) -> Value {
    run_event(
        "COMPLETE",
        "2024-05-01T10:00:00Z",
        &uuid::Uuid::new_v4().to_string(),
        job,
        json!([{"namespace": "db", "name": format!("in.{job}")}, {"namespace": "db", "name": "hub"}]),
        json!([{"namespace": "db", "name": format!("out.{job}")}]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_answers_503_fast_and_recovers_with_nothing_lost() {
    let Some(cluster) = PrivateCluster::start() else {
        return;
    };
    let app = common::TestApp::start(TestDb::borrowed(&cluster.url()), |_| {}).await;
    let mut acked = Vec::new();
    for i in 0..20 {
        let job = format!("before_{i}");
        app.ingest(&small_event(&job)).await;
        acked.push(job);
    }

    cluster.stop();
    for i in 0..3 {
        for (method, path, body) in [
            ("GET", "/api/v1/namespaces", Vec::new()),
            ("GET", "/api/v1/namespaces/tests/jobs/before_0", Vec::new()),
            ("GET", "/readyz", Vec::new()),
            (
                "POST",
                "/api/v1/lineage",
                small_event(&format!("during_{i}")).to_string().into_bytes(),
            ),
        ] {
            let started = std::time::Instant::now();
            let r = app.request(method, path, &[], &body).await;
            let took = started.elapsed();
            assert_eq!(
                r.status,
                503,
                "{method} {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert!(r.header("retry-after").is_some(), "{method} {path}");
            assert!(
                took < std::time::Duration::from_secs(2),
                "{method} {path} took {took:?}"
            );
        }
    }
    // Many reads at once (more than the reads served at a time): none waits behind another's
    // connection timeout.
    let started = std::time::Instant::now();
    let burst = futures_util::future::join_all((0..8).map(|i| {
        let path = if i % 2 == 0 {
            "/api/v1/namespaces"
        } else {
            "/api/v1/namespaces/tests/jobs/before_1"
        };
        app.request("GET", path, &[], b"")
    }))
    .await;
    let took = started.elapsed();
    for r in &burst {
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    }
    assert!(
        took < std::time::Duration::from_secs(2),
        "8 reads at once took {took:?}"
    );
    // Lineage is answered from memory meanwhile.
    let r = app
        .get("/api/v1/lineage?nodeId=job:tests:before_0&depth=1")
        .await;
    assert_ne!(r.status, 500);

    assert!(cluster.pg_ctl_start(), "pg_ctl start");
    let mut ready = false;
    for _ in 0..100 {
        if app.get("/readyz").await.status == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the server did not recover once Postgres was back");
    for i in 0..20 {
        let job = format!("after_{i}");
        app.ingest(&small_event(&job)).await;
        acked.push(job);
    }
    for job in &acked {
        let r = app
            .get(&format!("/api/v1/namespaces/tests/jobs/{job}"))
            .await;
        assert_eq!(r.status, 200, "{job} lost");
    }
    eprintln!(
        "Postgres stopped: 12 requests answered 503 within 2 s; {} acknowledged, all found",
        acked.len()
    );
    // A fresh server on the same database finds them all too.
    let fresh = common::TestApp::start(TestDb::borrowed(&cluster.url()), |_| {}).await;
    for job in &acked {
        let r = fresh
            .get(&format!("/api/v1/namespaces/tests/jobs/{job}"))
            .await;
        assert_eq!(r.status, 200, "{job} lost");
    }
}

/// A batch's writes go as one statement that commits on its own, the writer's lock held for the
/// connection's session around it. When that statement fails (here a trigger refuses the run),
/// nothing of the batch is stored — neither its model rows nor its raw log row — the client
/// hears a 5xx, and the lock is not left held: the next event, a delete (which takes the same
/// lock) and a second server's event all go through, and the refused event, sent again once the
/// trigger is gone, is stored as new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_write_fails_stores_nothing_and_leaves_the_writers_lock_free() {
    let Some(db) = TestDb::create(common::Db::Postgres).await else {
        return;
    };
    let app = common::TestApp::start(db, |_| {}).await;
    app.ingest(&small_event("first")).await;
    let refused_run = uuid::Uuid::new_v4().to_string();
    let refused = run_event(
        "COMPLETE",
        "2024-05-01T11:00:00Z",
        &refused_run,
        "refused",
        json!([{"namespace": "db", "name": "hub"}]),
        json!([{"namespace": "db", "name": "out.refused"}]),
    );
    let pool = common::pool(&app.db).await;
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.run_id = '{refused_run}' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER refuse_run BEFORE INSERT OR UPDATE ON runs \
         FOR EACH ROW EXECUTE FUNCTION refuse_run()"
    ))
    .execute(&pool)
    .await
    .expect("the trigger is installed");

    let soon = std::time::Duration::from_secs(20);
    let r = tokio::time::timeout(soon, post(app.addr, &refused))
        .await
        .expect("the refusal is answered without waiting for a lock left held");
    assert!(
        r.status >= 500,
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(app.event_count().await, 1, "the refused event was logged");
    for path in [
        "/api/v1/namespaces/tests/jobs/refused",
        "/api/v1/namespaces/db/datasets/out.refused",
    ] {
        assert_eq!(app.get(path).await.status, 404, "{path} was stored");
    }

    let next = tokio::time::timeout(soon, post(app.addr, &small_event("after"))).await;
    assert_eq!(next.expect("the writer's lock was left held").status, 201);
    let delete = app.request("DELETE", "/api/v1/namespaces/tests/jobs/first", &[], b"");
    let delete = tokio::time::timeout(soon, delete).await;
    assert_eq!(delete.expect("a delete waits for the lock").status, 200);
    let other = common::TestApp::start(TestDb::borrowed(&app.db.url), |_| {}).await;
    let theirs = tokio::time::timeout(soon, post(other.addr, &small_event("theirs"))).await;
    assert_eq!(
        theirs.expect("another server waits for the lock").status,
        201
    );

    sqlx::raw_sql("DROP TRIGGER refuse_run ON runs")
        .execute(&pool)
        .await
        .expect("the trigger is dropped");
    let again = post(app.addr, &refused).await;
    assert_eq!(again.status, 201);
    assert_eq!(app.event_count().await, 4);
    assert_eq!(
        app.get("/api/v1/namespaces/tests/jobs/refused")
            .await
            .status,
        200
    );
}

/// The node ids of a lineage answer, sorted.
async fn lineage_ids(app: &common::TestApp, node: &str) -> Vec<String> {
    let v = app
        .get_json(&format!("/api/v1/lineage?nodeId={node}&depth=1"))
        .await;
    let mut ids: Vec<String> = v["graph"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_terminated_under_load_give_no_500_and_the_graph_stays_whole() {
    let Some(db) = TestDb::create(common::Db::Postgres).await else {
        return;
    };
    let url = db.url.clone();
    let app = std::sync::Arc::new(common::TestApp::start(db, |_| {}).await);
    let name = url.rsplit('/').next().unwrap().to_string();

    // Terminate every connection of the server's database every 0.3 s, for 5 s.
    let killer = tokio::spawn(async move {
        use sqlx::Connection;
        let admin = std::env::var("TRIBUTARY_TEST_DATABASE_URL").unwrap();
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let mut killed = 0i64;
        for _ in 0..17 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            killed += n;
        }
        killed
    });

    let mut clients = Vec::new();
    for c in 0..4 {
        let app = app.clone();
        clients.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            let started = std::time::Instant::now();
            let mut i = 0;
            while started.elapsed() < std::time::Duration::from_millis(5_500) {
                let job = format!("c{c}_j{i}");
                let r = app.post_event(&small_event(&job)).await;
                *statuses.entry(r.status).or_default() += 1;
                if r.status == 201 {
                    acked.push(job.clone());
                }
                for path in [
                    format!("/api/v1/namespaces/tests/jobs/{job}"),
                    "/api/v1/namespaces/db/datasets?limit=5".to_string(),
                    "/api/v1/search?q=out".to_string(),
                ] {
                    let r = app.get(&path).await;
                    *statuses.entry(r.status).or_default() += 1;
                    assert!(
                        r.status < 500 || r.status == 503,
                        "{path}: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    );
                }
                i += 1;
            }
            (acked, statuses)
        }));
    }
    let mut acked = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for c in clients {
        let (a, s) = c.await.unwrap();
        acked.extend(a);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    let killed = killer.await.unwrap();
    eprintln!("terminated {killed} connections; answers: {statuses:?}");
    assert!(killed > 0);
    assert!(!statuses.contains_key(&500), "{statuses:?}");
    assert!(acked.len() > 20, "too few events got through: {statuses:?}");

    // The graph catches up by itself, then matches one loaded fresh from the store.
    let mut in_step = false;
    for _ in 0..150 {
        let r = app.get("/readyz").await;
        if r.status == 200 && r.json()["graph"]["inStep"] == Value::Bool(true) {
            in_step = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(in_step, "the graph never caught up");
    let fresh = common::TestApp::start(TestDb::borrowed(&url), |_| {}).await;
    for job in &acked {
        let node = format!("job:tests:{job}");
        let live = lineage_ids(&app, &node).await;
        assert_eq!(live, lineage_ids(&fresh, &node).await, "{node}");
        assert!(live.len() >= 4, "{node}: {live:?}");
    }
}
