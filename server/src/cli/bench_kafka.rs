//! `tributary bench kafka`: how fast events go from a Kafka topic into Postgres, with one server
//! and with two in one consumer group, against HTTP ingest of the same events in the same run.
//!
//! Each measurement gets a fresh database. The topic is filled before the servers start; the
//! rate is counted from the first event stored to the last (so joining the group is not counted),
//! by polling the event log's row count.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::{Connection, PgConnection};

use super::bench::ScratchDb;
use super::bench::{post_all, realistic_event, small_event, start_server, start_server_with};
use crate::config::Config;

#[derive(Args)]
pub struct KafkaArgs {
    /// A Postgres server URL; fresh databases are created there and dropped afterwards.
    #[arg(
        long,
        env = "TRIBUTARY_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Kafka brokers (`host:port,…`); topics are created there for the run.
    #[arg(long, env = "TRIBUTARY_BENCH_KAFKA")]
    pub brokers: String,
    /// Events to send.
    #[arg(long, default_value_t = 5_000)]
    pub events: usize,
    /// Concurrent HTTP clients for the HTTP baseline.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// Small events (one input, one output, a 5-field schema) instead of realistic 19 KB ones.
    #[arg(long)]
    pub small: bool,
}

pub async fn run(config: &Config, args: KafkaArgs) -> anyhow::Result<ExitCode> {
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..args.events)
            .map(|i| {
                if args.small {
                    small_event(i)
                } else {
                    realistic_event(i)
                }
                .to_string()
            })
            .collect(),
    );
    let bytes = bodies.iter().map(String::len).sum::<usize>() / bodies.len().max(1);

    let db = ScratchDb::create(&args.postgres, "tributary_bench_http").await?;
    let http = async {
        let addr = start_server(config, &db.url).await?;
        post_all(addr, bodies.clone(), args.events, args.clients).await
    }
    .await;
    db.finish(false).await?;
    let http = http?;

    let mut rows = Vec::new();
    for servers in [1, 2] {
        let topic = format!("bench-{}", uuid::Uuid::new_v4().simple());
        fill(&args, &topic, &bodies).await?;
        let db = ScratchDb::create(&args.postgres, "tributary_bench_kafka").await?;
        let rate = consume(config, &args, &db.url, &topic, servers).await;
        db.finish(false).await?;
        rows.push((servers, rate?));
    }

    println!(
        "bench kafka: {} events ({bytes} bytes average), {} partitions",
        args.events, args.partitions
    );
    println!();
    println!("| what | events/s | vs HTTP |");
    println!("|---|---:|---:|");
    println!(
        "| HTTP: POST /api/v1/lineage from {} clients | {:.0} | 1.00× |",
        args.clients, http.events_per_sec
    );
    for (servers, rate) in rows {
        println!(
            "| Kafka: {servers} server{} in one group, from a filled topic | {rate:.0} | {:.2}× |",
            if servers == 1 { "" } else { "s" },
            rate / http.events_per_sec
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates the topic (and its dead-letter topic) and sends every event to it.
async fn fill(args: &KafkaArgs, topic: &str, bodies: &[String]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .create()?;
    let dlq = format!("{topic}.dlq");
    let topics = [
        NewTopic::new(topic, args.partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)),
    ];
    for r in admin.create_topics(&topics, &AdminOptions::new()).await? {
        r.map_err(|(t, e)| anyhow::anyhow!("cannot create topic {t}: {e}"))?;
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("compression.codec", "lz4")
        .set("linger.ms", "20")
        .create()?;
    for chunk in bodies.chunks(1_000) {
        let keys: Vec<String> = (0..chunk.len())
            .map(|i| format!("run:bench/job_{}", i % 500))
            .collect();
        let sends = chunk.iter().zip(&keys).map(|(body, key)| {
            let record = FutureRecord::to(topic).key(key).payload(body.as_bytes());
            producer.send(record, Duration::from_secs(30))
        });
        for r in futures_util::future::join_all(sends).await {
            r.map_err(|(e, _)| e)?;
        }
    }
    Ok(())
}

/// Starts `servers` servers consuming the topic and answers the rate from the first event stored
/// to the last.
async fn consume(
    config: &Config,
    args: &KafkaArgs,
    url: &str,
    topic: &str,
    servers: usize,
) -> anyhow::Result<f64> {
    let group = format!("bench-{}", uuid::Uuid::new_v4().simple());
    for _ in 0..servers {
        start_server_with(config, url, |c| {
            c.kafka_brokers = Some(args.brokers.clone());
            c.kafka_topic = topic.to_string();
            c.kafka_group = group.clone();
            c.kafka_properties
                .insert("session.timeout.ms".into(), "6000".into());
        })
        .await?;
    }
    let mut pg = PgConnection::connect(url).await?;
    let total = args.events as i64;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<(Instant, i64)> = None;
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lineage_events")
            .fetch_one(&mut pg)
            .await?;
        if n > 0 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        if n >= total {
            let (t0, n0) = first.expect("set above");
            return Ok((total - n0) as f64 / t0.elapsed().as_secs_f64().max(1e-6));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{n} of {total} events after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
