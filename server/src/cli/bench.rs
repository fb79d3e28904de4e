//! `tributary bench …`: benchmarks that measure against a baseline in the same run.
//!
//! `bench ingest` posts realistic, distinct events from N concurrent HTTP clients to a server
//! on a fresh Postgres database, then, in the same run and at the same concurrency, inserts the
//! same JSON documents one row per statement into a one-table `jsonb` schema (the baseline).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};

use super::bench_cpu::{self, CpuPerEvent};
use super::client::Connection as HttpConnection;
use crate::config::Config;
use crate::startup::Application;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput and latency over HTTP against Postgres, with a jsonb baseline.
    Ingest(IngestArgs),
    /// REST read latency (listings, single objects, search) on a large synthetic catalog.
    Rest(RestArgs),
    /// The in-memory lineage graph against recursive CTEs in Postgres.
    Graph(super::bench_graph::GraphArgs),
    /// Lineage answers over HTTP (GraphQL and REST) on a 100k-node graph, against recursive
    /// CTEs over the same edges in the same Postgres.
    Api(super::bench_api::ApiArgs),
    /// Events/s from a pre-filled Kafka topic into Postgres with one and two servers, against
    /// HTTP ingest of the same events.
    Kafka(super::bench_kafka::KafkaArgs),
    /// Prepares realistic events as ingest does (parse, hash, validate, model), with no server
    /// and no database: a fixed amount of work, for instruction counts under callgrind. With
    /// `--normalize`, also normalizes them in batches into in-memory tables.
    Prepare(PrepareArgs),
}

#[derive(Args)]
pub struct PrepareArgs {
    /// Events to prepare.
    #[arg(long, default_value_t = 100)]
    pub events: usize,
    /// Only build the events (the same work minus preparing them), so that the difference of
    /// two runs is the cost of preparing.
    #[arg(long)]
    pub generate_only: bool,
    /// Then normalize the prepared events in batches of this many, each against the state the
    /// batches before it left (as the writer does; the stored rows handed over in memory), so
    /// that the difference to a run without it is the cost of normalizing.
    #[arg(long)]
    pub normalize: Option<usize>,
}

/// Builds `events` realistic events and, unless `generate_only`, prepares each as ingest does
/// (and normalizes them, with `--normalize`).
fn prepare(args: PrepareArgs) -> ExitCode {
    let validator = crate::ingest::Validator::new(crate::ingest::ValidationMode::Lenient);
    let mut prepared = Vec::new();
    let mut count = 0;
    for i in 0..args.events {
        let event = realistic_event(i);
        let body = event.to_string().into_bytes();
        if args.generate_only {
            std::hint::black_box((event, body));
            continue;
        }
        match crate::ingest::prepare_event(&validator, event, body, 0) {
            Ok(p) => {
                count += 1;
                if args.normalize.is_some() {
                    prepared.push(p);
                } else {
                    std::hint::black_box(p);
                }
            }
            Err(r) => {
                eprintln!("event {i} refused: {}", r.summary());
                return ExitCode::FAILURE;
            }
        }
    }
    println!("prepared {count} of {} events", args.events);
    if let Some(batch) = args.normalize {
        let mut tables = crate::model::normalize::MemoryTables::default();
        let mut rows = 0;
        for chunk in prepared.chunks(batch.max(1)) {
            let events: Vec<&crate::model::LineageEvent> = chunk.iter().map(|p| &p.event).collect();
            let set = tables.store(crate::model::time::now_micros(), &events);
            rows += set.datasets.len() + set.versions.len() + set.jobs.len() + set.runs.len();
        }
        println!("normalized them in batches of {batch}: {rows} dataset, version, job and run rows written");
    }
    ExitCode::SUCCESS
}

#[derive(Args)]
pub struct RestArgs {
    /// A Postgres server URL; a fresh database is created there and dropped afterwards.
    #[arg(
        long,
        env = "TRIBUTARY_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Jobs in the synthetic catalog (each with one version, one run, 2 inputs and 1 output).
    #[arg(long, default_value_t = 100_000)]
    pub jobs: i64,
    /// Datasets in the synthetic catalog (each with one version).
    #[arg(long, default_value_t = 300_000)]
    pub datasets: i64,
    /// Requests per measured endpoint.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

#[derive(Args)]
pub struct IngestArgs {
    /// A Postgres server URL; a fresh database is created there and dropped afterwards.
    #[arg(
        long,
        env = "TRIBUTARY_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Events to send.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Keep the benchmark database afterwards (for EXPLAIN and friends).
    #[arg(long)]
    keep_database: bool,
    /// Also measure ingest (as many new events again) while this many clients read the REST
    /// API in a loop (job pages, dataset listings, search, lineage), against ingest alone.
    #[arg(long, default_value_t = 0)]
    readers: usize,
    /// Ingest this many rounds of `--events` new events, one after the other, and print each
    /// round's rate: whether ingest keeps its speed as the store grows.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Event times in the order the events are sent, a second apart (as emitters report runs
    /// as they happen), instead of scattered over a month (a backfill's worst case: every event
    /// lands somewhere inside its job's history).
    #[arg(long)]
    in_order: bool,
    /// Small events instead of realistic ones: one input, one output, a 5-field schema, no
    /// column lineage (about 900 bytes), times in order.
    #[arg(long)]
    small: bool,
}

pub async fn run(config: &Config, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(config, args).await,
        BenchCommand::Rest(args) => super::bench_rest::run(config, args).await,
        BenchCommand::Graph(args) => super::bench_graph::run(args).await,
        BenchCommand::Api(args) => super::bench_api::run(config, args).await,
        BenchCommand::Kafka(args) => super::bench_kafka::run(config, args).await,
        BenchCommand::Prepare(args) => Ok(prepare(args)),
    }
}

/// A realistic event: 3 inputs and 1 output with 20-field schemas, column lineage for every
/// output field, a parent and the usual run and job facets. Event `i` is distinct from every other.
/// Its time is scattered over June 2024, a millisecond no other event has: `i` times a prime,
/// modulo the milliseconds of 30 days (the prime does not divide their count, so no two of the
/// first 2.59 billion events share a time; times built from `i % 24`, `i % 60`, … repeated after
/// 126,000 events, and every later event then tied with an earlier version of its job and output).
pub fn realistic_event(i: usize) -> Value {
    realistic_event_at(i, scattered_time(i))
}

/// Event `i`'s time in June 2024 (see [`realistic_event`]).
fn scattered_time(i: usize) -> String {
    const MONTH_MS: u128 = 30 * 86_400 * 1000;
    let offset = (i as u128 * 2_654_435_761) % MONTH_MS;
    let t = chrono::DateTime::from_timestamp_millis(1_717_200_000_000 + offset as i64)
        .expect("in range");
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `realistic_event` with its times in the order of `i`, a second apart from 2024-06-01.
pub fn realistic_event_in_order(i: usize) -> Value {
    let t = chrono::DateTime::from_timestamp(1_717_200_000 + i as i64, 0).expect("in range");
    realistic_event_at(i, t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A small event: job `i % 500` reads one of 3,000 tables and writes one of 1,000, each with a
/// 5-field schema; times in the order of `i`.
pub fn small_event(i: usize) -> Value {
    let t = chrono::DateTime::from_timestamp(1_717_200_000 + i as i64, 0).expect("in range");
    let table = |name: String| {
        let fields: Vec<Value> = (0..5)
            .map(|f| json!({"name": format!("col_{f}"), "type": "string"}))
            .collect();
        json!({"namespace": "postgres://db.example.com:5432", "name": name, "facets": {"schema": {
            "_producer": "https://example.com/bench",
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
            "fields": fields}}})
    };
    json!({
        "eventType": "COMPLETE",
        "eventTime": t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "producer": "https://example.com/bench",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("bench-run-{i}").as_bytes())},
        "job": {"namespace": "batch", "name": format!("small_job_{}", i % 500)},
        "inputs": [table(format!("raw.source_{}", (i * 7) % 3000))],
        "outputs": [table(format!("mart.table_{}", i % 1000))],
    })
}

fn realistic_event_at(i: usize, event_time: String) -> Value {
    const TYPES: [&str; 4] = ["string", "bigint", "decimal(18,2)", "timestamp"];
    let producer = "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/spark";
    let fields = |table: &str| -> Vec<Value> {
        (0..20)
            .map(|f| {
                json!({"name": format!("{table}_col_{f}"), "type": TYPES[f % 4],
                "description": format!("column {f} of {table}")})
            })
            .collect()
    };
    let input_names: Vec<String> = (0..3)
        .map(|k| format!("warehouse.raw.source_{}", (i * 7 + k * 131) % 3000))
        .collect();
    let output_name = format!("warehouse.mart.table_{}", i % 1000);
    let inputs: Vec<Value> = input_names
        .iter()
        .map(|n| json!({"namespace": "postgres://db.example.com:5432", "name": n, "facets": {
            "schema": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet", "fields": fields(n)},
            "dataSource": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet", "name": "postgres://db.example.com:5432", "uri": "postgres://db.example.com:5432"}
        }}))
        .collect();
    let column_lineage: serde_json::Map<String, Value> = (0..20)
        .map(|f| {
            (format!("{output_name}_col_{f}"), json!({"inputFields": [
                {"namespace": "postgres://db.example.com:5432", "name": input_names[f % 3], "field": format!("{}_col_{f}", input_names[f % 3]),
                 "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "description": "", "masking": false}]}
            ]}))
        })
        .collect();
    json!({
        "eventType": "COMPLETE",
        "eventTime": event_time,
        "producer": producer,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("bench-run-{i}").as_bytes()), "facets": {
            "parent": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet",
                "run": {"runId": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("bench-dag-{}", i / 10).as_bytes())},
                "job": {"namespace": "airflow", "name": format!("dag_{}", i % 50)}},
            "nominalTime": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
                "nominalStartTime": "2024-06-01T00:00:00Z"},
            "processing_engine": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
                "version": "3.5.1", "name": "spark", "openlineageAdapterVersion": "1.23.0"}
        }},
        "job": {"namespace": "spark", "name": format!("etl_job_{}", i % 500), "facets": {
            "jobType": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
                "processingType": "BATCH", "integration": "SPARK", "jobType": "SQL_JOB"},
            "sql": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet",
                "query": format!("INSERT INTO {output_name} SELECT * FROM {} JOIN {} USING (id) JOIN {} USING (id)", input_names[0], input_names[1], input_names[2])}
        }},
        "inputs": inputs,
        "outputs": [{"namespace": "postgres://db.example.com:5432", "name": output_name, "facets": {
            "schema": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet", "fields": fields(&output_name)},
            "columnLineage": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet", "fields": column_lineage}
        }, "outputFacets": {"outputStatistics": {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
            "rowCount": i * 13, "size": i * 1024}}}]
    })
}

/// Throughput and latency of one measured run.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub events_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub(super) fn summarise(mut latencies: Vec<Duration>, elapsed: Duration) -> Measured {
    latencies.sort();
    let pick = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    Measured {
        events_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
    }
}

/// Runs `clients` workers, each taking the next index and timing `op` on it.
async fn drive<F, Fut>(n: usize, clients: usize, op: F) -> anyhow::Result<Measured>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (next, op) = (next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                op(client, i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(summarise(all, started.elapsed()))
}

/// A Postgres database created for one benchmark run and dropped after it.
pub(super) struct ScratchDb {
    admin: PgConnection,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl ScratchDb {
    /// Creates `{prefix}_{pid}` on the server `server_url` names.
    pub async fn create(server_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}_{}", std::process::id());
        let mut admin = PgConnection::connect(server_url).await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
            .await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        let url = with_database(server_url, &name);
        Ok(ScratchDb { admin, name, url })
    }

    /// Runs a query on the server's admin connection.
    pub async fn admin_query<T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin>(
        &mut self,
        sql: &str,
    ) -> anyhow::Result<Vec<T>> {
        Ok(sqlx::query_as(sql).fetch_all(&mut self.admin).await?)
    }

    /// Drops the database (unless `keep`, which prints its name instead).
    pub async fn finish(mut self, keep: bool) -> anyhow::Result<()> {
        if keep {
            println!("kept database {}", self.name);
        } else {
            self.admin
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                .await?;
        }
        Ok(())
    }
}

/// Starts a server in this process on a database, on a free loopback port.
pub(super) async fn start_server(base: &Config, database_url: &str) -> anyhow::Result<SocketAddr> {
    start_server_with(base, database_url, |_| {}).await
}

/// `start_server` with a changed configuration.
pub(super) async fn start_server_with(
    base: &Config,
    database_url: &str,
    change: impl FnOnce(&mut Config),
) -> anyhow::Result<SocketAddr> {
    let mut config = Config {
        bind: "127.0.0.1:0".into(),
        database_url: database_url.to_string(),
        db_max_connections: 4,
        max_concurrent_reads: base.max_concurrent_reads,
        node_data_cache_mb: base.node_data_cache_mb,
        ..Config::default()
    };
    change(&mut config);
    let app = Application::build(&config).await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
    tokio::spawn(app.run_until_stopped());
    Ok(addr)
}

pub(super) fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = base[scheme_end..]
        .find('/')
        .map_or(base, |i| &base[..scheme_end + i]);
    query.map_or(format!("{base}/{db}"), |q| format!("{base}/{db}?{q}"))
}

async fn ingest(config: &Config, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let mut db = ScratchDb::create(&args.postgres, "tributary_bench").await?;
    let settings: Vec<(String, String)> = db
        .admin_query("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version')")
        .await?;
    let result = measure(config, &db.url, &args).await;
    db.finish(args.keep_database).await?;
    let IngestFigures {
        rounds,
        baseline,
        bytes,
        mixed,
        wal,
        baseline_wal,
        cpu,
        baseline_cpu,
    } = result?;
    let ours = rounds[0];

    println!(
        "bench ingest: {} events ({} bytes average), {} concurrent clients, Postgres {:?}",
        args.events, bytes, args.clients, settings
    );
    println!();
    println!("| what | events/s | p50 ms | p99 ms | WAL KB/event |");
    println!("|---|---:|---:|---:|---:|");
    println!("| tributary: POST /api/v1/lineage, validated, modelled, group commit | {:.0} | {:.2} | {:.2} | {:.1} |", ours.events_per_sec, ours.p50_ms, ours.p99_ms, wal / 1024.0);
    println!(
        "| baseline: one INSERT per event into a jsonb table | {:.0} | {:.2} | {:.2} | {:.1} |",
        baseline.events_per_sec,
        baseline.p50_ms,
        baseline.p99_ms,
        baseline_wal / 1024.0
    );
    if let Some((mixed, reads)) = mixed {
        println!(
            "| tributary with {} REST readers beside it ({reads:.0} reads/s) | {:.0} | {:.2} | {:.2} | |",
            args.readers, mixed.events_per_sec, mixed.p50_ms, mixed.p99_ms
        );
    }
    if rounds.len() > 1 {
        println!();
        println!("| round | events stored before it | events/s | p50 ms | p99 ms |");
        println!("|---:|---:|---:|---:|---:|");
        for (k, r) in rounds.iter().enumerate() {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} |",
                k + 1,
                k * args.events,
                r.events_per_sec,
                r.p50_ms,
                r.p99_ms
            );
        }
    }
    println!();
    println!(
        "ratio (tributary / baseline): {:.2}x",
        ours.events_per_sec / baseline.events_per_sec
    );
    print_cpu(&cpu, &baseline_cpu, ours.events_per_sec);
    if let Some((mixed, _)) = mixed {
        println!(
            "ratio (ingest alone / ingest beside readers): {:.2}x",
            ours.events_per_sec / mixed.events_per_sec
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what each event cost the processors (the first round, and the baseline), and how
/// many events a second this machine's cores would allow at that cost.
fn print_cpu(cpu: &CpuPerEvent, baseline: &CpuPerEvent, rate: f64) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let postgres = |c: &CpuPerEvent| {
        c.postgres_ms.map_or(
            "not measured (not a server on this machine)".to_string(),
            |ms| format!("{ms:.2}"),
        )
    };
    println!();
    println!("CPU ms per event (this process: the server and the benchmark's clients):");
    println!(
        "  tributary: this process {:.2}, Postgres {}",
        cpu.own_ms,
        postgres(cpu)
    );
    println!(
        "  baseline:  this process {:.2}, Postgres {}",
        baseline.own_ms,
        postgres(baseline)
    );
    if let Some(ceiling) = cpu.ceiling(cores) {
        println!(
            "  at that cost {cores} cores allow at most {ceiling:.0} tributary events/s; \
             it ran at {rate:.0} ({:.0} % of them busy)",
            100.0 * rate / ceiling
        );
    }
}

/// What `bench ingest` measures.
struct IngestFigures {
    /// Ingest alone, each round.
    rounds: Vec<Measured>,
    baseline: Measured,
    /// The average event's size.
    bytes: usize,
    /// With `--readers`: ingest beside readers, and the readers' rate.
    mixed: Option<(Measured, f64)>,
    /// Write-ahead log written per event in the first round (the whole Postgres server's, while
    /// it ran), and by the baseline.
    wal: f64,
    baseline_wal: f64,
    /// The processors' time per event in the first round, and the baseline's.
    cpu: CpuPerEvent,
    baseline_cpu: CpuPerEvent,
}

/// Where the Postgres server's write-ahead log ends now, in bytes.
async fn wal_position(pool: &sqlx::PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint")
            .fetch_one(pool)
            .await?,
    )
}

/// REST reads a catalog browser makes, round robin.
fn reader_path(k: usize) -> String {
    match k % 5 {
        0 => "/api/v1/namespaces/spark/jobs?limit=100".to_string(),
        1 => "/api/v1/namespaces/postgres:%2F%2Fdb.example.com:5432/datasets?limit=100".to_string(),
        2 => format!("/api/v1/search?q=table_{}", k % 100),
        3 => format!("/api/v1/namespaces/spark/jobs/etl_job_{}", k % 500),
        _ => format!(
            "/api/v1/lineage?nodeId=job:spark:etl_job_{}&depth=2",
            k % 500
        ),
    }
}

/// POSTs the first `n` of `bodies` from `clients` connections.
pub(super) async fn post_all(
    addr: SocketAddr,
    bodies: Arc<Vec<String>>,
    n: usize,
    clients: usize,
) -> anyhow::Result<Measured> {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(Arc::new(tokio::sync::Mutex::new(
            HttpConnection::open(addr).await?,
        )));
    }
    let conns = Arc::new(conns);
    drive(n, clients, move |client, i| {
        let (conns, bodies) = (conns.clone(), bodies.clone());
        async move {
            let mut conn = conns[client].lock().await;
            let r = conn
                .request(
                    "POST",
                    "/api/v1/lineage",
                    &[("Content-Type", "application/json")],
                    bodies[i].as_bytes(),
                )
                .await?;
            anyhow::ensure!(
                r.status == 201,
                "event {i}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            Ok(())
        }
    })
    .await
}

async fn measure(config: &Config, url: &str, args: &IngestArgs) -> anyhow::Result<IngestFigures> {
    let rounds = args.rounds.max(1);
    // Each round's events are made just before it (a million realistic events would need
    // 19 GB at once); none is made while a round is measured.
    let bodies_from = |offset: usize| -> Arc<Vec<String>> {
        Arc::new(
            (offset..offset + args.events)
                .map(|i| {
                    if args.small {
                        small_event(i)
                    } else if args.in_order {
                        realistic_event_in_order(i)
                    } else {
                        realistic_event(i)
                    }
                    .to_string()
                })
                .collect(),
        )
    };
    let first = bodies_from(0);
    let avg = first.iter().map(String::len).sum::<usize>() / first.len().max(1);

    let pool = PgPoolOptions::new()
        .max_connections(args.clients as u32)
        .connect(url)
        .await?;
    let addr = start_server(config, url).await?;
    let mut ours = Vec::with_capacity(rounds);
    let mut wal = 0.0;
    let mut cpu = None;
    for round in 0..rounds {
        let wal_before = wal_position(&pool).await?;
        let bodies = if round == 0 {
            first.clone()
        } else {
            bodies_from(round * args.events)
        };
        let cpu_before = bench_cpu::sample(&pool).await;
        let measured = post_all(addr, bodies, args.events, args.clients).await?;
        if round == 0 {
            cpu = Some(cpu_before.per_event(&bench_cpu::sample(&pool).await, args.events));
            wal = (wal_position(&pool).await? - wal_before) as f64 / args.events as f64;
        }
        if rounds > 1 {
            // As it goes: a long run stopped early still tells how far it got.
            eprintln!(
                "round {} of {rounds}: {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms",
                round + 1,
                measured.events_per_sec,
                measured.p50_ms,
                measured.p99_ms
            );
        }
        ours.push(measured);
    }
    let mixed = if args.readers > 0 {
        let bodies = bodies_from(rounds * args.events);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let mut readers = Vec::new();
        for r in 0..args.readers {
            let (stop, reads) = (stop.clone(), reads.clone());
            let mut conn = HttpConnection::open(addr).await?;
            readers.push(tokio::spawn(async move {
                let mut k = r * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let resp = conn.request("GET", &reader_path(k), &[], b"").await?;
                    anyhow::ensure!(
                        resp.status < 500,
                        "read {}: {}",
                        reader_path(k),
                        resp.status
                    );
                    reads.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                }
                Ok(())
            }));
        }
        let started = Instant::now();
        let mixed = post_all(addr, bodies, args.events, args.clients).await;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.await??;
        }
        Some((
            mixed?,
            reads.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        ))
    } else {
        None
    };

    pool.execute("CREATE TABLE baseline_events (id BIGSERIAL PRIMARY KEY, event JSONB NOT NULL)")
        .await?;
    let wal_before = wal_position(&pool).await?;
    let cpu_before = bench_cpu::sample(&pool).await;
    let baseline = {
        let pool = pool.clone();
        let bodies = first;
        drive(args.events, args.clients, move |_, i| {
            let (pool, bodies) = (pool.clone(), bodies.clone());
            async move {
                sqlx::query("INSERT INTO baseline_events (event) VALUES ($1::jsonb)")
                    .bind(&bodies[i])
                    .execute(&pool)
                    .await?;
                Ok(())
            }
        })
        .await?
    };
    let baseline_cpu = cpu_before.per_event(&bench_cpu::sample(&pool).await, args.events);
    let baseline_wal = (wal_position(&pool).await? - wal_before) as f64 / args.events as f64;
    pool.close().await;
    Ok(IngestFigures {
        rounds: ours,
        baseline,
        bytes: avg,
        mixed,
        wal,
        baseline_wal,
        cpu: cpu.expect("at least one round"),
        baseline_cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scattered_times_are_in_june_and_never_repeat() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1_100_000 {
            let t = scattered_time(i);
            assert!(t.starts_with("2024-06-"), "{i}: {t}");
            assert!(seen.insert(t), "event {i} repeats a time");
        }
    }
}
