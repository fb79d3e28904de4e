//! `tributary bench rest`: read latency of the Marquez-compatible API on a large catalog.
//!
//! The catalog is synthetic and written straight into the model tables with set-based SQL
//! (ingesting 400,000 objects through HTTP would measure ingest, not reads). Each endpoint is then
//! asked `--requests` times over HTTP, one request at a time, and p50/p99 are reported.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

use super::bench::{start_server, summarise, RestArgs, ScratchDb};
use super::client::Connection as HttpConnection;
use crate::config::Config;

/// A synthetic dataset's facets as the store keeps them: a three-field schema and a description.
pub(super) const SYNTHETIC_FACETS: &str = r#"{"schema":{"t":0,"v":{"fields":[{"name":"id","type":"bigint"},{"name":"amount","type":"decimal"},{"name":"created","type":"timestamp"}]}},"documentation":{"t":0,"v":{"description":"synthetic table"}}}"#;

fn fill_sql(jobs: i64, datasets: i64) -> Vec<String> {
    let schema = SYNTHETIC_FACETS;
    vec![
        "INSERT INTO namespaces (name, created_at, updated_at) SELECT 'ns_' || i, 0, 0 FROM generate_series(0, 99) i".into(),
        format!(
            "INSERT INTO datasets (id, namespace, name, source_name, facets, current_version_id, current_version_time, created_at, updated_at) \
             SELECT 'd' || i, 'ns_' || (i % 100), 'db.schema.table_' || i, 'ns_' || (i % 100), '{schema}', 'v' || i, i, i, i \
             FROM generate_series(0, {}) i",
            datasets - 1
        ),
        "INSERT INTO dataset_names (name_key, namespace, name, dataset_id) SELECT id, namespace, name, id FROM datasets".into(),
        format!(
            "INSERT INTO dataset_versions (id, dataset_id, created_by_run, created_at, updated_at, facets, io_facets, checksum) \
             SELECT 'v' || i, 'd' || i, 'r' || (i % {jobs}), i, i, '{schema}', '{{}}', md5(i::text) FROM generate_series(0, {}) i",
            datasets - 1
        ),
        format!(
            "INSERT INTO jobs (id, namespace, name, facets, created_at, updated_at) \
             SELECT 'j' || i, 'ns_' || (i % 100), 'etl.job_' || i, '{{}}', i, i FROM generate_series(0, {}) i",
            jobs - 1
        ),
        format!(
            "INSERT INTO job_versions (id, job_id, inputs, outputs, valid_from, created_at) \
             SELECT 'jv' || i, 'j' || i, \
             json_build_array('d' || ((i * 3) % {datasets}), 'd' || ((i * 3 + 1) % {datasets}))::text, \
             json_build_array('d' || ((i * 3 + 2) % {datasets}))::text, i, i FROM generate_series(0, {}) i",
            jobs - 1
        ),
        format!(
            "INSERT INTO runs (uuid, run_id, job_id, job_version_id, state, start_time, terminal_time, terminal_type, \
             first_event_time, last_event_time, facets, job_facets, created_at, updated_at, io) \
             SELECT 'r' || i, 'r' || i, 'j' || i, 'jv' || i, 'COMPLETED', i, i + 60000000, 'COMPLETE', i, i + 60000000, '{{}}', '{{}}', i, i, \
             (SELECT json_agg(json_build_object('dir', d.dir, 'dataset', 'd' || ((i * 3 + d.k) % {datasets}), \
             'version', 'v' || ((i * 3 + d.k) % {datasets}), 'bind_time', i, 'facets', '{{}}'::json))::text \
             FROM (VALUES ('in', 0), ('in', 1), ('out', 2)) AS d(dir, k)) \
             FROM generate_series(0, {}) i",
            jobs - 1
        ),
        "VACUUM ANALYZE".into(),
    ]
}

pub async fn run(config: &Config, args: RestArgs) -> anyhow::Result<ExitCode> {
    let db = ScratchDb::create(&args.postgres, "tributary_bench_rest").await?;
    let result = measure(config, &db.url, &args).await;
    db.finish(false).await?;
    let (fill, rows) = result?;
    println!(
        "bench rest: {} jobs, {} datasets (filled in {:.1} s), {} sequential requests per endpoint",
        args.jobs,
        args.datasets,
        fill.as_secs_f64(),
        args.requests
    );
    println!();
    println!("| endpoint | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    for (what, m) in rows {
        println!("| {what} | {:.2} | {:.2} |", m.p50_ms, m.p99_ms);
    }
    Ok(ExitCode::SUCCESS)
}

type Rows = Vec<(String, super::bench::Measured)>;

/// The request path for the i-th request to one endpoint.
type PathFn = Box<dyn Fn(usize) -> String>;

async fn measure(config: &Config, url: &str, args: &RestArgs) -> anyhow::Result<(Duration, Rows)> {
    let addr = start_server(config, url).await?;

    let started = Instant::now();
    let mut db = PgConnection::connect(url).await?;
    for sql in fill_sql(args.jobs, args.datasets) {
        db.execute(sql.as_str()).await?;
    }
    let fill = started.elapsed();

    let mut conn = HttpConnection::open(addr).await?;
    let n = args.requests;
    let (jobs, datasets) = (args.jobs, args.datasets);
    let endpoints: Vec<(&str, PathFn)> = vec![
        (
            "GET /namespaces/{ns}/datasets?limit=100 (a page)",
            Box::new(|i| {
                format!(
                    "/api/v1/namespaces/ns_{}/datasets?limit=100&offset={}",
                    i % 100,
                    (i % 10) * 100
                )
            }),
        ),
        (
            "GET /namespaces/{ns}/jobs?limit=100 (a page)",
            Box::new(|i| {
                format!(
                    "/api/v1/namespaces/ns_{}/jobs?limit=100&offset={}",
                    i % 100,
                    (i % 5) * 100
                )
            }),
        ),
        (
            "GET /jobs?limit=100 (all namespaces)",
            Box::new(|i| format!("/api/v1/jobs?limit=100&offset={}", (i % 50) * 100)),
        ),
        (
            "GET /namespaces/{ns}/datasets/{name}",
            Box::new(move |i| {
                let d = (i as i64 * 7919) % datasets;
                format!(
                    "/api/v1/namespaces/ns_{}/datasets/db.schema.table_{d}",
                    d % 100
                )
            }),
        ),
        (
            "GET /namespaces/{ns}/jobs/{name}",
            Box::new(move |i| {
                let j = (i as i64 * 7919) % jobs;
                format!("/api/v1/namespaces/ns_{}/jobs/etl.job_{j}", j % 100)
            }),
        ),
        (
            "GET /search?q=table_12345",
            Box::new(move |i| format!("/api/v1/search?q=table_{}", (i as i64 * 7919) % datasets)),
        ),
    ];
    let mut rows = Vec::new();
    for (what, path) in endpoints {
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for i in 0..n {
            let p = path(i);
            let t = Instant::now();
            let r = conn.request("GET", &p, &[], b"").await?;
            anyhow::ensure!(
                r.status == 200,
                "{p}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            lat.push(t.elapsed());
        }
        rows.push((what.to_string(), summarise(lat, t0.elapsed())));
    }
    Ok((fill, rows))
}
