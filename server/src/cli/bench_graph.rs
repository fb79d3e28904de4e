//! `tributary bench graph`: the in-memory lineage graph on synthetic, realistically shaped
//! graphs, against the same questions answered by a recursive CTE in Postgres (how Marquez
//! answers `/lineage`), in the same run.
//!
//! Shape: a layered DAG. Each layer has datasets; each job reads 1–4 datasets from the previous
//! two layers (a few hub tables are read far more often: inputs are drawn with a squared random
//! number, skewing towards the first tables of a layer) and writes 1–2 datasets of the next
//! layer. Half the jobs changed their inputs at `T`, so `asOf` before and after differ.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use sqlx::{Connection, Executor, PgConnection};

use super::bench::{summarise, Measured, ScratchDb};
use petgraph::stable_graph::NodeIndex;

use crate::graph::{Direction, EdgeSpan, GraphJob, LineageIndex, NodeKey, TraverseOptions};
use crate::model::time::Micros;

#[derive(Args)]
pub struct GraphArgs {
    /// A Postgres server URL for the baseline; a fresh database is created and dropped.
    #[arg(
        long,
        env = "TRIBUTARY_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Graph sizes in nodes (datasets + jobs).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub sizes: Vec<usize>,
    /// Largest size also answered by the Postgres baseline.
    #[arg(long, default_value_t = 100_000)]
    pub baseline_up_to: usize,
    /// Queries per measurement.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Also write a graph of about this many edges into a scratch Tributary database on the
    /// Postgres server and time loading the index from it, as the server does at startup
    /// (0 skips it).
    #[arg(long, default_value_t = 0)]
    pub store_edges: usize,
    /// Only time loading the index from this existing Tributary database (nothing is written
    /// to it), e.g. a copy of production.
    #[arg(long)]
    pub load_from: Option<String>,
}

pub(super) const T: Micros = 1_000_000;
const LAYERS: usize = 12;

/// A small deterministic generator (xorshift), so every run builds the same graph.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Skewed towards 0: a few hubs are picked far more often.
    fn skewed(&mut self, n: usize) -> usize {
        let x = (self.next() % 10_000) as f64 / 10_000.0;
        ((x * x) * n as f64) as usize
    }
}

/// Jobs of a synthetic graph of about `nodes` nodes.
pub(super) fn synthetic(nodes: usize) -> Vec<GraphJob> {
    let datasets_per_layer = (nodes * 6 / 10 / LAYERS).max(2);
    let jobs_per_layer = (nodes * 4 / 10 / (LAYERS - 1)).max(1);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let ds = |layer: usize, i: usize| ("warehouse".to_string(), format!("l{layer}.t{i}"));
    let mut jobs = Vec::with_capacity(jobs_per_layer * (LAYERS - 1));
    for layer in 1..LAYERS {
        for j in 0..jobs_per_layer {
            let pick = |rng: &mut Rng| -> Vec<(String, String)> {
                (0..1 + rng.below(4))
                    .map(|_| {
                        let from = if layer >= 2 && rng.below(4) == 0 {
                            layer - 2
                        } else {
                            layer - 1
                        };
                        ds(from, rng.skewed(datasets_per_layer))
                    })
                    .collect()
            };
            let outputs: Vec<(String, String)> = (0..1 + rng.below(2))
                .map(|_| ds(layer, rng.below(datasets_per_layer)))
                .collect();
            let first = pick(&mut rng);
            let versions = if j % 2 == 0 {
                vec![
                    (EdgeSpan { from: 0, to: T }, first, outputs.clone()),
                    (
                        EdgeSpan {
                            from: T,
                            to: Micros::MAX,
                        },
                        pick(&mut rng),
                        outputs,
                    ),
                ]
            } else {
                vec![(
                    EdgeSpan {
                        from: 0,
                        to: Micros::MAX,
                    },
                    first,
                    outputs,
                )]
            };
            jobs.push(GraphJob {
                namespace: "etl".into(),
                name: format!("l{layer}.job{j}"),
                deleted_at: None,
                since: Micros::MIN,
                until: Micros::MAX,
                versions,
            });
        }
    }
    jobs
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn time<F: FnMut(usize)>(n: usize, mut f: F) -> Measured {
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i);
        lat.push(t.elapsed());
    }
    summarise(lat, t0.elapsed())
}

fn row(what: &str, m: &Measured, base: Option<&Measured>) {
    let (b50, b99, ratio) = match base {
        Some(b) => (
            format!("{:.2}", b.p50_ms),
            format!("{:.2}", b.p99_ms),
            format!("{:.0}×", b.p50_ms / m.p50_ms.max(0.0001)),
        ),
        None => ("–".into(), "–".into(), "–".into()),
    };
    println!(
        "| {what} | {:.3} | {:.3} | {b50} | {b99} | {ratio} |",
        m.p50_ms, m.p99_ms
    );
}

pub async fn run(args: GraphArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.load_from {
        let store = crate::store::SqlStore::connect(url, 4).await?;
        time_load(store).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let db = ScratchDb::create(&args.postgres, "tributary_bench_graph").await?;
    let mut pg = PgConnection::connect(&db.url).await?;
    let result = measure(&args, &mut pg).await;
    drop(pg);
    db.finish(false).await?;
    result?;
    if args.store_edges > 0 {
        let db = ScratchDb::create(&args.postgres, "tributary_bench_load").await?;
        let result = load_from_store(&db.url, args.store_edges).await;
        db.finish(false).await?;
        result?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes jobs that each read two datasets and write one (so `edges / 3` jobs and `edges / 6`
/// datasets) into the model tables with set-based SQL, with UUID ids as the server writes them,
/// then times `Lineage::load`.
async fn load_from_store(url: &str, edges: usize) -> anyhow::Result<()> {
    let jobs = (edges / 3).max(1);
    let datasets = (edges / 6).max(1);
    let store = crate::store::SqlStore::connect(url, 4).await?;
    crate::store::Store::migrate(&store).await?;
    let mut pg = PgConnection::connect(url).await?;
    let t0 = Instant::now();
    for sql in [
        format!(
            "INSERT INTO datasets (id, namespace, name, facets, created_at, updated_at) \
             SELECT md5('d' || i)::uuid::text, 'warehouse', 'db.schema.table_' || i, '{{}}', 0, 0 \
             FROM generate_series(0, {}) i",
            datasets - 1
        ),
        format!(
            "INSERT INTO jobs (id, namespace, name, facets, created_at, updated_at) \
             SELECT md5('j' || i)::uuid::text, 'etl', 'etl.job_' || i, '{{}}', 0, 0 \
             FROM generate_series(0, {}) i",
            jobs - 1
        ),
        format!(
            "INSERT INTO job_versions (id, job_id, inputs, outputs, valid_from, created_at) \
             SELECT md5('jv' || i)::uuid::text, md5('j' || i)::uuid::text, \
             json_build_array(md5('d' || ((i * 3) % {datasets}))::uuid::text, \
             md5('d' || ((i * 3 + 1) % {datasets}))::uuid::text)::text, \
             json_build_array(md5('d' || ((i * 3 + 2) % {datasets}))::uuid::text)::text, 0, 0 \
             FROM generate_series(0, {}) i",
            jobs - 1
        ),
        "VACUUM ANALYZE".into(),
    ] {
        pg.execute(sql.as_str()).await?;
    }
    println!(
        "\n### Loading the index from the store: {jobs} jobs, {datasets} datasets, {} edges written in {:.1} s",
        jobs * 3,
        t0.elapsed().as_secs_f64()
    );
    time_load(store).await
}

/// Times `Lineage::load` from a store, as the server does at startup.
async fn time_load(store: crate::store::SqlStore) -> anyhow::Result<()> {
    let before = resident_bytes();
    let t0 = Instant::now();
    let lineage = crate::lineage::Lineage::load(std::sync::Arc::new(store)).await?;
    let load = t0.elapsed();
    let (nodes, edges) = lineage.read().size();
    let per_edge = resident_bytes().saturating_sub(before) as f64 / edges.max(1) as f64;
    println!(
        "\nloaded {nodes} nodes and {edges} edges in {:.2} s ({per_edge:.0} bytes per edge resident, query buffers included)",
        load.as_secs_f64()
    );
    Ok(())
}

async fn measure(args: &GraphArgs, pg: &mut PgConnection) -> anyhow::Result<()> {
    for &size in &args.sizes {
        let jobs = synthetic(size);
        let before = resident_bytes();
        let t0 = Instant::now();
        let index = LineageIndex::build(std::iter::empty(), &jobs);
        index.prepare();
        let build = t0.elapsed();
        let (nodes, edges) = index.size();
        let per_edge = resident_bytes().saturating_sub(before) as f64 / edges.max(1) as f64;
        println!("\n### {nodes} nodes, {edges} edges: index built in {:.2} s, {per_edge:.0} bytes per edge (resident memory)\n", build.as_secs_f64());

        // Start nodes: tables of the first layers, where impact is largest.
        let starts: Vec<_> = (0..args.queries)
            .map(|i| {
                index
                    .find(&NodeKey::dataset(
                        "warehouse",
                        &format!("l{}.t{}", i % 3, (i * 7) % 50),
                    ))
                    .or_else(|| index.find(&NodeKey::dataset("warehouse", "l0.t0")))
                    .expect("a start node")
            })
            .collect();
        let n = args.queries;
        let mut sizes = Vec::new();
        let impact3 = time(n, |i| {
            sizes.push(
                index
                    .impact(starts[i], Some(3), None, usize::MAX)
                    .affected
                    .len(),
            )
        });
        let impact5 = time(n, |i| {
            index.impact(starts[i], Some(5), None, usize::MAX);
        });
        let impact_all = time(n, |i| {
            index.impact(starts[i], None, None, usize::MAX);
        });
        let lineage20 = time(n, |i| {
            index.lineage(
                starts[i],
                TraverseOptions {
                    direction: Direction::Both,
                    depth: 20,
                    as_of: None,
                    max_nodes: usize::MAX,
                },
            );
        });
        let as_of = time(n, |i| {
            index.impact(starts[i], None, Some(T / 2), usize::MAX);
        });
        // The closure of about 10,000 nodes: the start whose unbounded impact is nearest 10k.
        let hub = (0..50)
            .filter_map(|i| index.find(&NodeKey::dataset("warehouse", &format!("l0.t{i}"))))
            .min_by_key(|s| {
                (index.impact(*s, None, None, usize::MAX).affected.len() as i64 - 10_000).abs()
            })
            .expect("a hub");
        let closure_size = index.impact(hub, None, None, usize::MAX).affected.len();
        let closure = time(n.min(50), |_| {
            index.impact(hub, None, None, usize::MAX);
        });
        let avg = sizes.iter().sum::<usize>() / sizes.len().max(1);

        let baseline = if size <= args.baseline_up_to {
            Some(baseline(pg, &index, &starts, n).await?)
        } else {
            None
        };
        println!("| query | p50 ms | p99 ms | CTE p50 ms | CTE p99 ms | speed-up (p50) |");
        println!("|---|---:|---:|---:|---:|---:|");
        row(
            &format!("impact, depth 3 (avg {avg} nodes)"),
            &impact3,
            baseline.as_ref().map(|b| &b.0),
        );
        row("impact, depth 5", &impact5, None);
        row(
            "impact, unbounded",
            &impact_all,
            baseline.as_ref().map(|b| &b.1),
        );
        row("lineage BOTH, depth 20", &lineage20, None);
        row("impact asOf (before half the jobs changed)", &as_of, None);
        row(
            &format!("downstream closure of {closure_size} nodes"),
            &closure,
            None,
        );
    }
    Ok(())
}

/// The same edges in Postgres and the same downstream questions as recursive CTEs.
async fn baseline(
    pg: &mut PgConnection,
    index: &LineageIndex,
    starts: &[NodeIndex],
    n: usize,
) -> anyhow::Result<(Measured, Measured)> {
    pg.execute(
        "DROP TABLE IF EXISTS edges; CREATE TABLE edges (src BIGINT NOT NULL, dst BIGINT NOT NULL)",
    )
    .await?;
    let mut ids: HashMap<NodeIndex, i64> = HashMap::new();
    let mut id = |n: NodeIndex| {
        let next = ids.len() as i64;
        *ids.entry(n).or_insert(next)
    };
    let rows: Vec<(i64, i64)> = index
        .current_edges()
        .into_iter()
        .map(|(a, b)| (id(a), id(b)))
        .collect();
    for chunk in rows.chunks(5_000) {
        let values: Vec<String> = chunk.iter().map(|(a, b)| format!("({a},{b})")).collect();
        pg.execute(format!("INSERT INTO edges VALUES {}", values.join(",")).as_str())
            .await?;
    }
    pg.execute("CREATE INDEX edges_src ON edges (src); ANALYZE edges")
        .await?;
    // Jobs sit between datasets, so a depth of 3 jobs is 6 edges. UNION (not UNION ALL) keeps
    // cycles from running forever, as Marquez's query does.
    let cte = |limit: &str| {
        format!(
            "WITH RECURSIVE down(node, depth) AS (SELECT $1::bigint, 0 UNION \
             SELECT e.dst, d.depth + 1 FROM edges e JOIN down d ON e.src = d.node {limit}) \
             SELECT COUNT(DISTINCT node) FROM down"
        )
    };
    let starts: Vec<i64> = starts
        .iter()
        .map(|s| ids.get(s).copied().unwrap_or(-1))
        .collect();
    let mut results = Vec::new();
    for (sql, count) in [(cte("WHERE d.depth < 6"), n), (cte(""), n.min(50))] {
        let mut lat: Vec<Duration> = Vec::with_capacity(count);
        let t0 = Instant::now();
        for s in starts.iter().take(count) {
            let t = Instant::now();
            let _: i64 = sqlx::query_scalar(&sql)
                .bind(*s)
                .fetch_one(&mut *pg)
                .await?;
            lat.push(t.elapsed());
        }
        results.push(summarise(lat, t0.elapsed()));
    }
    Ok((results[0], results[1]))
}
