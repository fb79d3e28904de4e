//! Kafka in, against a real broker: `TRIBUTARY_TEST_KAFKA` names it (`host:port`); skipped when
//! unset (`.ci/run` starts one). Each test uses topics and a consumer group of its own.

mod common;

use std::time::{Duration, Instant};

use common::{run_event, Db, TestApp};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

fn broker() -> Option<String> {
    std::env::var("TRIBUTARY_TEST_KAFKA")
        .ok()
        .filter(|s| !s.is_empty())
}

async fn create_topics(brokers: &str, topics: &[(&str, i32)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    for r in admin
        .create_topics(&new, &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
}

/// Topics of a test (events on 4 partitions, its dead-letter topic) and a consumer group of its
/// own, with a configuration file that shortens the group's session timeout (the broker makes a
/// first member wait half of it).
struct Stream {
    brokers: String,
    topic: String,
    group: String,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Stream {
    async fn new(brokers: &str) -> Stream {
        let topic = format!("ol-{}", uuid::Uuid::new_v4().simple());
        create_topics(brokers, &[(&topic, 4), (&format!("{topic}.dlq"), 1)]).await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tributary.toml");
        std::fs::write(
            &config,
            "[kafka.properties]\n\"session.timeout.ms\" = \"6000\"\n",
        )
        .unwrap();
        Stream {
            brokers: brokers.to_string(),
            topic,
            group: format!("g-{}", uuid::Uuid::new_v4().simple()),
            config,
            _dir: dir,
        }
    }

    /// The environment of a `tributary serve` that consumes the stream.
    fn env(&self) -> [(&str, &str); 4] {
        [
            ("TRIBUTARY_KAFKA_BROKERS", self.brokers.as_str()),
            ("TRIBUTARY_KAFKA_TOPIC", self.topic.as_str()),
            ("TRIBUTARY_KAFKA_GROUP", self.group.as_str()),
            ("TRIBUTARY_CONFIG", self.config.to_str().unwrap()),
        ]
    }

    /// The same for a server in this process.
    fn configure(&self, c: &mut tributary::config::Config) {
        c.kafka_brokers = Some(self.brokers.clone());
        c.kafka_topic = self.topic.clone();
        c.kafka_group = self.group.clone();
        c.kafka_properties
            .insert("session.timeout.ms".into(), "6000".into());
    }

    /// Sends events `from..to` (numbered as `event` numbers them), jobs named `{prefix}{i % 50}`.
    async fn send(&self, from: usize, to: usize, prefix: &str, codec: &str) {
        let events: Vec<(Option<String>, Vec<u8>)> = (from..to)
            .map(|i| event(i, &format!("{prefix}{}", i % 50)))
            .collect();
        let batch: Vec<(Option<&str>, Vec<u8>)> = events
            .iter()
            .map(|(k, v)| (k.as_deref(), v.clone()))
            .collect();
        produce(&self.brokers, &self.topic, codec, &batch).await;
    }
}

async fn produce(brokers: &str, topic: &str, codec: &str, messages: &[(Option<&str>, Vec<u8>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("compression.codec", codec)
        .set("linger.ms", "20")
        .create()
        .unwrap();
    let sends = messages.iter().map(|(key, payload)| {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).payload(payload);
        if let Some(k) = key {
            record = record.key(k);
        }
        producer.send(record, Duration::from_secs(10))
    });
    for r in futures_util::future::join_all(sends).await {
        r.map_err(|(e, _)| e).unwrap();
    }
}

/// An event of job `job` reading `in` and writing `out_{job}`, with the client's default key.
fn event(i: usize, job: &str) -> (Option<String>, Vec<u8>) {
    let e = run_event(
        "COMPLETE",
        "2024-06-01T10:00:00Z",
        &format!("0191f7c2-0000-7000-8000-0000000a{i:04}"),
        job,
        json!([{"namespace": "kafka", "name": "in"}]),
        json!([{"namespace": "kafka", "name": format!("out_{job}")}]),
    );
    (
        Some(format!("run:tests/{job}")),
        serde_json::to_vec(&e).unwrap(),
    )
}

/// Events sent with each compression codec are stored, once each; garbage, JSON that is no
/// event and an invalid event land in the dead-letter topic with their bytes, key and error, and
/// the events around them are stored all the same.
async fn events_come_in_and_poison_goes_to_the_dead_letter_topic(db: Db) {
    let Some(brokers) = broker() else {
        return;
    };
    let topic = format!("ol-{}", uuid::Uuid::new_v4().simple());
    let dlq = format!("{topic}.dlq");
    create_topics(&brokers, &[(&topic, 4), (&dlq, 1)]).await;

    let mut sent = 0;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let batch: Vec<(Option<String>, Vec<u8>)> = (0..3)
            .map(|k| {
                sent += 1;
                event(sent, &format!("{codec}_{k}"))
            })
            .collect();
        let batch: Vec<(Option<&str>, Vec<u8>)> = batch
            .iter()
            .map(|(k, v)| (k.as_deref(), v.clone()))
            .collect();
        produce(&brokers, &topic, codec, &batch).await;
    }
    let mut invalid = serde_json::from_slice::<serde_json::Value>(&event(900, "bad").1).unwrap();
    invalid["eventTime"] = json!("not a time");
    let poison: Vec<(Option<&str>, Vec<u8>)> = vec![
        (Some("garbage"), b"\x00\xffnot json".to_vec()),
        (Some("no-event"), br#"{"hello": "world"}"#.to_vec()),
        (Some("invalid"), serde_json::to_vec(&invalid).unwrap()),
    ];
    produce(&brokers, &topic, "none", &poison).await;
    // And one more event after the poison.
    sent += 1;
    let (k, v) = event(sent, "after");
    produce(&brokers, &topic, "none", &[(k.as_deref(), v)]).await;

    let group = format!("g-{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(db, |c| {
        c.kafka_brokers = Some(brokers.clone());
        c.kafka_topic = topic.clone();
        c.kafka_group = group.clone();
        c.kafka_properties
            .insert("session.timeout.ms".into(), "6000".into());
        c.kafka_properties
            .insert("statistics.interval.ms".into(), "500".into());
    })
    .await
    .expect("a database");
    // Stored, and in the graph (which follows each commit just after it), as HTTP ingest.
    let lineage_size = || async {
        let r = app.get("/api/v1/lineage?nodeId=dataset:kafka:in").await;
        if r.status == 200 {
            r.json()["graph"].as_array().map_or(0, Vec::len)
        } else {
            0
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.event_count().await < sent as i64 || lineage_size().await < 1 + 2 * sent {
        assert!(
            Instant::now() < deadline,
            "{} of {sent} events stored after 60 s, {} lineage nodes",
            app.event_count().await,
            lineage_size().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(lineage_size().await, 1 + 2 * sent);
    // The readiness answer says what the consumer does.
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["kafka"]["state"], "consuming", "{ready}");
    assert!(ready["kafka"]["lastCommit"].is_string(), "{ready}");
    // The lag of each partition this server consumes is in /metrics, and its sum in /readyz.
    // (Only its presence is asserted: the test broker's high watermarks are not exact.)
    let label = "tributary_kafka_consumer_lag{";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = String::from_utf8(app.get("/metrics").await.body).unwrap();
        let lags: Vec<i64> = text
            .lines()
            .filter(|l| l.starts_with(label) && l.contains(&format!("topic=\"{topic}\"")))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        let ready = app.get_json("/readyz").await;
        if !lags.is_empty() && ready["kafka"]["lag"].is_i64() {
            assert!(lags.iter().all(|l| *l >= 0), "{lags:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no consumer lag after 30 s: {ready}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let reader: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("r-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    reader.subscribe(&[&dlq]).unwrap();
    let mut letters = Vec::new();
    while letters.len() < poison.len() {
        let m = tokio::time::timeout(Duration::from_secs(30), reader.recv())
            .await
            .expect("dead letters within 30 s")
            .unwrap();
        let header = |name: &str| {
            m.headers().and_then(|h| {
                h.iter()
                    .find(|x| x.key == name)
                    .and_then(|x| x.value)
                    .map(|v| String::from_utf8_lossy(v).to_string())
            })
        };
        letters.push((
            m.key().map(|k| String::from_utf8_lossy(k).to_string()),
            m.payload().unwrap_or_default().to_vec(),
            header("tributary.error").unwrap_or_default(),
            header("tributary.source.topic"),
        ));
    }
    letters.sort();
    let mut expected: Vec<(Option<String>, Vec<u8>)> = poison
        .iter()
        .map(|(k, v)| (k.map(str::to_string), v.clone()))
        .collect();
    expected.sort();
    for ((key, payload, error, source), (want_key, want_payload)) in letters.iter().zip(&expected) {
        assert_eq!((key, payload), (want_key, want_payload));
        assert_eq!(source.as_deref(), Some(topic.as_str()));
        let why = match key.as_deref() {
            Some("garbage") => "not valid JSON",
            Some("invalid") => "eventTime",
            _ => "",
        };
        assert!(!error.is_empty() && error.contains(why), "{key:?}: {error}");
    }
    // Nothing was stored twice, nothing refused was stored.
    assert_eq!(app.event_count().await, sent as i64);
}

async fn stored_events(pool: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM lineage_events")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits (90 s at most) until at least `n` events are stored; answers how many are.
async fn stored_at_least(pool: &sqlx::AnyPool, n: usize, total: usize, what: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let stored = stored_events(pool).await;
        if stored >= n as i64 {
            return stored;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {stored} of {total} stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Killed with SIGKILL while it consumes, then started again: every event is stored, none
/// twice (offsets are committed only after the events are, so the restart reads again what the
/// crash left uncommitted, and storing it again changes nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_stream_loses_nothing() {
    let Some(brokers) = broker() else {
        return;
    };
    let Some(db) = common::TestDb::create(Db::Postgres).await else {
        return;
    };
    let stream = Stream::new(&brokers).await;
    let total = 3_000;
    stream.send(0, total, "j", "lz4").await;
    let env = stream.env();
    let pool = common::pool(&db).await;
    let (mut first, _) = common::serve_env(&db, &env);
    let before = stored_at_least(&pool, 1, total, "the first server starts storing").await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        before < total as i64,
        "all stored before the kill: make the stream longer"
    );
    let (mut second, _) = common::serve_env(&db, &env);
    stored_at_least(&pool, total, total, "the second server stores the rest").await;
    // Nothing more arrives: every event once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_events(&pool).await, total as i64);
    second.kill().unwrap();
    second.wait().unwrap();
}

/// A query-string value, percent-encoded.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Node ids and edges of a lineage answer, sorted (the data differs between servers: times of
/// ingest).
fn shape(answer: &serde_json::Value) -> (Vec<String>, Vec<(String, String)>) {
    let graph = answer["graph"].as_array().cloned().unwrap_or_default();
    let mut ids: Vec<String> = graph
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    let mut edges: Vec<(String, String)> = graph
        .iter()
        .flat_map(|n| n["outEdges"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["origin"].as_str().unwrap().to_string(),
                e["destination"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ids.sort();
    edges.sort();
    (ids, edges)
}

/// The official OpenLineage Python client's Kafka transport (its message keys, its
/// serialization), with its own events and the shared corpus: what it sends through Kafka is
/// stored, and every job's lineage and the run states equal those of a server that got the same
/// events over HTTP. Needs `TRIBUTARY_PYTHON` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_clients_kafka_transport_gives_what_http_gives() {
    let (Some(brokers), Some(python)) = (broker(), std::env::var("TRIBUTARY_PYTHON").ok()) else {
        return;
    };
    let stream = Stream::new(&brokers).await;
    let topic = &stream.topic;
    let Some(app) = TestApp::spawn_with(Db::Postgres, |c| stream.configure(c)).await else {
        return;
    };
    let http = TestApp::spawn(Db::Sqlite).await.unwrap();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/kafka/openlineage_kafka.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([&brokers, topic, &format!("http://{}", http.addr)])
        .args(common::corpus_files("valid").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // Events the corpus holds twice are stored once, by either way in.
    let stored = http.event_count().await;
    assert!(stored > 6 && stored <= sent, "{stored} of {sent}");
    let node = "/api/v1/lineage?nodeId=dataset:postgres://db:5432:raw.orders";
    let want = shape(&http.get_json(node).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.get(node).await;
        if app.event_count().await == stored && r.status == 200 && shape(&r.json()) == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {stored} events through Kafka after 60 s",
            app.event_count().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(want.0.len(), 7, "{want:?}");
    // Every job's lineage, the corpus's too, is the same on both (the graph takes each commit
    // just after it: a moment's grace).
    let jobs = http.get_json("/api/v1/jobs?limit=1000").await;
    let jobs = jobs["jobs"].as_array().unwrap().clone();
    assert!(jobs.len() >= 3, "{jobs:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    for j in &jobs {
        let id = format!(
            "job:{}:{}",
            j["namespace"].as_str().unwrap(),
            j["name"].as_str().unwrap()
        );
        let path = format!("/api/v1/lineage?nodeId={}", encode(&id));
        loop {
            let (theirs, ours) = (http.get(&path).await, app.get(&path).await);
            let same = theirs.status == ours.status
                && (theirs.status != 200 || shape(&theirs.json()) == shape(&ours.json()));
            if same {
                break;
            }
            assert!(Instant::now() < deadline, "{id}: the lineage differs");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for job in ["extract", "transform", "aggregate"] {
        let path = format!("/api/v1/namespaces/airflow/jobs/orders_dag.{job}");
        let (a, b) = (app.get_json(&path).await, http.get_json(&path).await);
        assert_eq!(a["latestRun"]["state"], "COMPLETED", "{a}");
        assert_eq!(a["latestRun"]["state"], b["latestRun"]["state"]);
        assert_eq!(a["parentJobName"], b["parentJobName"]);
    }
}

/// How many events a server stored from Kafka, by its readiness answer.
async fn stored_by(app: &TestApp) -> i64 {
    app.get_json("/readyz").await["kafka"]["stored"]
        .as_i64()
        .unwrap_or(0)
}

/// Two servers in one group on one Postgres: the partitions are split between them, both answer
/// the same lineage (each follows the other's commits), and when one is killed the other takes
/// over its partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_the_partitions_and_take_over() {
    let Some(brokers) = broker() else {
        return;
    };
    let Some(db) = common::TestDb::create(Db::Postgres).await else {
        return;
    };
    let stream = Stream::new(&brokers).await;
    let env = stream.env();
    let server = |addr| TestApp {
        addr,
        db: common::TestDb::borrowed(&db.url),
        config: Default::default(),
    };
    let (mut first, a) = common::serve_env(&db, &env);
    let (mut second, b) = common::serve_env(&db, &env);
    let (a, b) = (server(a), server(b));
    // Both in the group before anything is sent.
    let deadline = Instant::now() + Duration::from_secs(30);
    let pool = common::pool(&db).await;
    let mut sent = 0;
    loop {
        stream.send(sent, sent + 40, "k", "none").await;
        sent += 40;
        stored_at_least(&pool, sent, sent, "both servers consume").await;
        if stored_by(&a).await > 0 && stored_by(&b).await > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the partitions were not split within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Both answer the same lineage.
    let node = "/api/v1/lineage?nodeId=dataset:kafka:in";
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.get_json(node).await != b.get_json(node).await {
        assert!(
            Instant::now() < deadline,
            "the two servers' lineage differs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One goes; the other takes its partitions over.
    first.kill().unwrap();
    first.wait().unwrap();
    stream.send(sent, sent + 40, "late", "none").await;
    sent += 40;
    stored_at_least(&pool, sent, sent, "the second server takes over").await;
    assert_eq!(stored_events(&pool).await, sent as i64);
    second.kill().unwrap();
    second.wait().unwrap();
}

/// SIGTERM while it consumes: the server finishes the batch in hand (stored, offsets committed)
/// and exits promptly; started again, it stores the rest, every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_finishes_its_batch_and_exits() {
    let Some(brokers) = broker() else {
        return;
    };
    let Some(db) = common::TestDb::create(Db::Postgres).await else {
        return;
    };
    let stream = Stream::new(&brokers).await;
    let total = 3_000;
    stream.send(0, total, "s", "lz4").await;
    let env = stream.env();
    let pool = common::pool(&db).await;
    let (mut first, _) = common::serve_env(&db, &env);
    stored_at_least(&pool, 1, total, "the server starts storing").await;
    let sigterm = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(sigterm.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = first.try_wait().unwrap() {
            break status;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let (mut second, _) = common::serve_env(&db, &env);
    stored_at_least(&pool, total, total, "the restarted server stores the rest").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_events(&pool).await, total as i64);
    second.kill().unwrap();
    second.wait().unwrap();
}

on_both_backends!(events_come_in_and_poison_goes_to_the_dead_letter_topic);
