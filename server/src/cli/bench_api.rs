//! `tributary bench api`: lineage answers as users get them, over HTTP and timed client side, on
//! a graph of about 100k nodes that a server loads from a Tributary database on Postgres; the
//! baseline is a recursive CTE over the same edges in the same Postgres (node ids only, as
//! Marquez walks `/lineage`), in the same run.
//!
//! The graph is `bench graph`'s layered, hub-skewed DAG, written into the model tables as the
//! server writes them (UUID ids, a schema facet on every dataset, a current version, a latest run
//! per job with its inputs and outputs), so REST answers carry real node data.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use petgraph::stable_graph::NodeIndex;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use super::bench::{start_server, summarise, Measured, ScratchDb};
use super::bench_graph::{synthetic, T};
use super::client::Connection as HttpConnection;
use crate::config::Config;
use crate::graph::{Direction, GraphJob, LineageIndex, NodeKey, NodeKind, TraverseOptions};
use crate::model::ids;
use crate::model::normalize::IoState;

#[derive(Args)]
pub struct ApiArgs {
    /// A Postgres server URL; a fresh database is created there and dropped afterwards.
    #[arg(
        long,
        env = "TRIBUTARY_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Graph size in nodes (datasets + jobs).
    #[arg(long, default_value_t = 100_000)]
    pub nodes: usize,
    /// Requests per measured question (one at a time).
    #[arg(long, default_value_t = 30)]
    pub requests: usize,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    pub keep_database: bool,
    /// Ask only the questions whose description contains this (e.g. `REST`), for profiling.
    #[arg(long)]
    pub only: Option<String>,
}

pub async fn run(config: &Config, args: ApiArgs) -> anyhow::Result<ExitCode> {
    let db = ScratchDb::create(&args.postgres, "tributary_bench_api").await?;
    let result = measure(config, &db.url, &args).await;
    db.finish(args.keep_database).await?;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// One question, asked over HTTP and of the baseline.
struct Question {
    what: String,
    method: &'static str,
    path: String,
    body: String,
    /// The baseline's SQL (bound to the start node's id) and the id it starts from.
    cte: Option<(String, String)>,
}

async fn measure(config: &Config, url: &str, args: &ApiArgs) -> anyhow::Result<()> {
    let jobs = synthetic(args.nodes);
    let t0 = Instant::now();
    write_graph(url, &jobs).await?;
    let written = t0.elapsed();
    let index = LineageIndex::build(std::iter::empty(), &jobs);
    index.prepare();
    let (nodes, edges) = index.size();
    let mut pg = PgConnection::connect(url).await?;
    write_edges(&mut pg, &index).await?;
    let t0 = Instant::now();
    let addr = start_server(config, url).await?;
    let up = t0.elapsed();
    // The server renders its nodes' REST data after a start; the questions are timed after.
    let mut conn = HttpConnection::open(addr).await?;
    loop {
        let ready = conn.request("GET", "/readyz", &[], b"").await?.json();
        if ready["nodeData"]["warming"] != true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!(
        "bench api: {nodes} nodes, {edges} edges written in {:.1} s; server up (graph loaded) in {:.1} s, node data rendered {:.1} s later; {} requests per question, one at a time\n",
        written.as_secs_f64(),
        up.as_secs_f64(),
        (t0.elapsed() - up).as_secs_f64(),
        args.requests
    );

    let datasets: Vec<NodeIndex> = (0..nodes)
        .map(NodeIndex::new)
        .filter(|n| index.node(*n).key.kind == NodeKind::Dataset)
        .collect();
    let closure = |n: NodeIndex| index.impact(n, None, None, usize::MAX).affected.len();
    let nearest = |target: usize, size: &dyn Fn(NodeIndex) -> usize| {
        datasets
            .iter()
            .step_by((datasets.len() / 400).max(1))
            .map(|n| (*n, size(*n)))
            .filter(|(_, s)| *s <= target * 2)
            .min_by_key(|(_, s)| s.abs_diff(target))
            .expect("a start node")
    };
    let (hub, hub_size) = nearest(5_000, &closure);
    let (small, small_size) = nearest(500, &closure);
    let downstream = |n: NodeIndex| {
        let g = index.lineage(
            n,
            TraverseOptions {
                direction: Direction::Downstream,
                depth: 20,
                as_of: None,
                max_nodes: usize::MAX,
            },
        );
        // Past 10,000 nodes the REST answer is cut short: not a fair comparison.
        if g.nodes.len() > 10_000 {
            usize::MAX / 4
        } else {
            g.nodes.len()
        }
    };
    let (wide, wide_size) = nearest(10_000, &downstream);
    let depth3 = index.impact(hub, Some(3), None, usize::MAX).affected.len();
    let id = |n: NodeIndex| index.node(n).key.id();
    let store_id = |n: NodeIndex| store_id(&index.node(n).key);

    let down = |limit: &str| {
        format!(
            "WITH RECURSIVE down(node, depth) AS (SELECT $1::text, 0 UNION \
             SELECT e.dst, d.depth + 1 FROM bench_edges e JOIN down d ON e.src = d.node {limit}) \
             SELECT DISTINCT node FROM down"
        )
    };
    let gql = |query: String| serde_json::json!({ "query": query }).to_string();
    let questions = [
        Question {
            // The least any HTTP answer costs here: a request the server answers without
            // looking at anything.
            what: "the floor: plain HTTP `GET /healthz`, against `SELECT $1`".into(),
            method: "GET",
            path: "/healthz".into(),
            body: String::new(),
            cte: Some(("SELECT $1::text".into(), store_id(hub))),
        },
        Question {
            // What any answer costs on either side: one request and one statement that do
            // nothing, each over its own connection.
            what: "the floor: GraphQL `{ __typename }`, against `SELECT $1`".into(),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql("{ __typename }".into()),
            cte: Some(("SELECT $1::text".into(), store_id(hub))),
        },
        Question {
            what: format!("GraphQL impact of a hub, whole closure ({hub_size} nodes), ids"),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ impact(nodeId: "{}") {{ affected {{ node {{ id }} }} }} }}"#,
                id(hub)
            )),
            cte: Some((down(""), store_id(hub))),
        },
        Question {
            what: format!(
                "GraphQL impact of a hub, whole closure ({hub_size} nodes), ids, per-item resolvers"
            ),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ impact(nodeId: "{}") {{ affected {{ node {{ ... on LineageNode {{ id }} }} }} }} }}"#,
                id(hub)
            )),
            cte: Some((down(""), store_id(hub))),
        },
        Question {
            what: format!(
                "GraphQL impact of the hub with distance, path and names ({hub_size} nodes)"
            ),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ impact(nodeId: "{}") {{ affected {{ distance path node {{ id name }} }} }} }}"#,
                id(hub)
            )),
            cte: None,
        },
        Question {
            what: format!("GraphQL impact of the hub, depth 3 ({depth3} nodes)"),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ impact(nodeId: "{}", depth: 3) {{ affected {{ node {{ id }} }} }} }}"#,
                id(hub)
            )),
            // Jobs sit between datasets: 3 jobs deep is 6 edges.
            cte: Some((down("WHERE d.depth < 6"), store_id(hub))),
        },
        Question {
            what: format!("GraphQL impact, a small closure ({small_size} nodes)"),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ impact(nodeId: "{}") {{ affected {{ node {{ id }} }} }} }}"#,
                id(small)
            )),
            cte: Some((down(""), store_id(small))),
        },
        Question {
            what: format!(
                "GraphQL lineage DOWNSTREAM, depth 20 ({wide_size} nodes), nodes and edges"
            ),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ lineage(nodeId: "{}", direction: DOWNSTREAM, depth: 20) {{ nodes {{ id }} edges {{ source target }} }} }}"#,
                id(wide)
            )),
            cte: Some((down("WHERE d.depth < 40"), store_id(wide))),
        },
        Question {
            // The same answer, resolved item by item (a fragment takes the one-pass answer
            // away): what the one-pass answer saves, in the same run.
            what: format!(
                "GraphQL lineage DOWNSTREAM, depth 20 ({wide_size} nodes), nodes and edges, per-item resolvers"
            ),
            method: "POST",
            path: "/api/v1/graphql".into(),
            body: gql(format!(
                r#"{{ lineage(nodeId: "{}", direction: DOWNSTREAM, depth: 20) {{ nodes {{ ... on LineageNode {{ id }} }} edges {{ ... on LineageEdge {{ source target }} }} }} }}"#,
                id(wide)
            )),
            cte: Some((down("WHERE d.depth < 40"), store_id(wide))),
        },
        Question {
            what: format!(
                "REST /api/v1/lineage DOWNSTREAM, depth 20 ({wide_size} nodes, Marquez's node data)"
            ),
            method: "GET",
            // Synthetic ids need no escaping in a query string.
            path: format!(
                "/api/v1/lineage?nodeId={}&depth=20&direction=DOWNSTREAM",
                id(wide)
            ),
            body: String::new(),
            cte: Some((down("WHERE d.depth < 40"), store_id(wide))),
        },
    ];

    println!("| question | first ms | p50 ms | p99 ms | bytes | CTE p50 ms | CTE p99 ms | CTE rows | CTE ÷ Tributary (p50) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let asked = questions.iter().filter(|q| {
        args.only
            .as_ref()
            .is_none_or(|o| q.what.contains(o.as_str()))
    });
    for q in asked {
        // A connection of its own: the server closes one left idle (its keep-alive, 5 s) while
        // the previous question's CTE ran.
        let mut conn = HttpConnection::open(addr).await?;
        let mut lat = Vec::with_capacity(args.requests);
        let mut bytes = 0;
        let mut first = 0.0;
        let mut t0 = Instant::now();
        // The first answer is timed apart: it may fill what later answers reuse.
        for i in 0..=args.requests {
            let t = Instant::now();
            let r = conn
                .request(
                    q.method,
                    &q.path,
                    &[("Content-Type", "application/json")],
                    q.body.as_bytes(),
                )
                .await?;
            if i == 0 {
                first = t.elapsed().as_secs_f64() * 1000.0;
                t0 = Instant::now();
            } else {
                lat.push(t.elapsed());
            }
            anyhow::ensure!(
                r.status == 200 && !r.body.starts_with(br#"{"errors""#),
                "{}: {} {}",
                q.what,
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(500)])
            );
            bytes = r.body.len();
            // Its buffer holds the next answer: the client's own allocation is not timed.
            conn.give_back(r.body);
        }
        let ours = summarise(lat, t0.elapsed());
        let (base, rows) = match &q.cte {
            Some((sql, start)) => {
                let (m, rows) = baseline(&mut pg, sql, start, args.requests).await?;
                (Some(m), rows)
            }
            None => (None, 0),
        };
        let (b50, b99, rows, ratio) = match base {
            Some(b) => (
                format!("{:.2}", b.p50_ms),
                format!("{:.2}", b.p99_ms),
                rows.to_string(),
                format!("{:.1}×", b.p50_ms / ours.p50_ms.max(0.0001)),
            ),
            None => ("–".into(), "–".into(), "–".into(), "–".into()),
        };
        println!(
            "| {} | {first:.1} | {:.2} | {:.2} | {bytes} | {b50} | {b99} | {rows} | {ratio} |",
            q.what, ours.p50_ms, ours.p99_ms
        );
    }
    Ok(())
}

/// Times the baseline: the ids fetched to the client, as Marquez fetches them before the nodes.
async fn baseline(
    pg: &mut PgConnection,
    sql: &str,
    start: &str,
    n: usize,
) -> anyhow::Result<(Measured, usize)> {
    let mut lat = Vec::with_capacity(n);
    let mut rows = 0;
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let ids: Vec<String> = sqlx::query_scalar(sql)
            .bind(start)
            .fetch_all(&mut *pg)
            .await?;
        lat.push(t.elapsed());
        rows = ids.len();
    }
    Ok((summarise(lat, t0.elapsed()), rows))
}

/// The id a node has in the store.
fn store_id(key: &NodeKey) -> String {
    match key.kind {
        NodeKind::Dataset => ids::dataset_id(&key.namespace, &key.name),
        NodeKind::Job => ids::job_id(&key.namespace, &key.name),
    }
    .to_string()
}

/// The current edges of the graph as `bench_edges (src, dst)` with store ids, indexed both ways.
async fn write_edges(pg: &mut PgConnection, index: &LineageIndex) -> anyhow::Result<()> {
    let (src, dst): (Vec<String>, Vec<String>) = index
        .current_edges()
        .into_iter()
        .map(|(a, b)| (store_id(&index.node(a).key), store_id(&index.node(b).key)))
        .unzip();
    pg.execute("CREATE TABLE bench_edges (src TEXT NOT NULL, dst TEXT NOT NULL)")
        .await?;
    sqlx::query("INSERT INTO bench_edges SELECT * FROM UNNEST($1::text[], $2::text[])")
        .bind(&src)
        .bind(&dst)
        .execute(&mut *pg)
        .await?;
    pg.execute(
        "CREATE INDEX bench_edges_src ON bench_edges (src); \
         CREATE INDEX bench_edges_dst ON bench_edges (dst); ANALYZE bench_edges",
    )
    .await?;
    Ok(())
}

/// Column arrays for one `INSERT … SELECT * FROM UNNEST(…)`.
#[derive(Default)]
struct Columns(Vec<Vec<Option<String>>>);

const TEXT: &str = "text";
const INT: &str = "bigint";

impl Columns {
    fn push(&mut self, row: Vec<Option<String>>) {
        if self.0.is_empty() {
            self.0 = vec![Vec::new(); row.len()];
        }
        for (col, v) in self.0.iter_mut().zip(row) {
            col.push(v);
        }
    }

    /// Inserts the rows into `table`, columns named with their types.
    async fn insert(
        self,
        pg: &mut PgConnection,
        table: &str,
        columns: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let casts: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("${}::{t}[]", i + 1))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
            names.join(", "),
            casts.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (col, (_, ty)) in self.0.into_iter().zip(columns) {
            q = if *ty == INT {
                let v: Vec<Option<i64>> = col
                    .into_iter()
                    .map(|s| s.map(|s| s.parse().expect("a number")))
                    .collect();
                q.bind(v)
            } else {
                q.bind(col)
            };
        }
        q.execute(&mut *pg).await?;
        Ok(())
    }
}

/// A text value.
fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A number.
fn n(v: i64) -> Option<String> {
    Some(v.to_string())
}

/// The id of a dataset's one version.
fn version_of(key: &(String, String)) -> String {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("version/{}/{}", key.0, key.1).as_bytes(),
    )
    .to_string()
}

/// Writes the synthetic jobs into a migrated Tributary database as the server would have: one
/// job version per span, each job's latest run, one version per dataset (produced by the first
/// run that writes it).
async fn write_graph(url: &str, jobs: &[GraphJob]) -> anyhow::Result<()> {
    let store = crate::store::SqlStore::connect(url, 2).await?;
    crate::store::Store::migrate(&store).await?;
    let mut pg = PgConnection::connect(url).await?;
    let minute = 60_000_000i64;

    let mut writer_run: HashMap<&(String, String), String> = HashMap::new();
    let mut job_rows = Columns::default();
    let mut versions = Columns::default();
    let mut runs = Columns::default();
    // A version's inputs or outputs as the writer stores them: the datasets' ids, sorted, once
    // each.
    let stored = |list: &[(String, String)]| {
        let ids: std::collections::BTreeSet<String> = list
            .iter()
            .map(|k| ids::dataset_id(&k.0, &k.1).to_string())
            .collect();
        serde_json::to_string(&ids).expect("ids")
    };
    for (j, job) in jobs.iter().enumerate() {
        let job_id = ids::job_id(&job.namespace, &job.name).to_string();
        job_rows.push(vec![
            s(&job_id),
            s(&job.namespace),
            s(&job.name),
            s("{}"),
            n(0),
            n(T + minute),
        ]);
        let mut latest = String::new();
        for (v, (span, inputs, outputs)) in job.versions.iter().enumerate() {
            let version_id =
                Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{job_id}/{v}").as_bytes()).to_string();
            versions.push(vec![
                s(&version_id),
                s(&job_id),
                s(&stored(inputs)),
                s(&stored(outputs)),
                n(span.from),
                n(span.from),
            ]);
            latest = version_id;
        }
        let run = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("run/{j}").as_bytes()).to_string();
        let start = T + (j as i64 % 1000) * 1000;
        let (_, inputs, outputs) = job.versions.last().expect("a version");
        let mut io = std::collections::BTreeMap::new();
        for (dir, list) in [("in", inputs), ("out", outputs)] {
            for key in list {
                if dir == "out" {
                    writer_run.entry(key).or_insert_with(|| run.clone());
                }
                io.insert(
                    (
                        run.clone(),
                        dir,
                        ids::dataset_id(&key.0, &key.1).to_string(),
                    ),
                    IoState {
                        dirty: false,
                        version_id: Some(version_of(key)),
                        bind_time: start,
                        facets: Default::default(),
                    },
                );
            }
        }
        runs.push(vec![
            s(&run),
            s(&run),
            s(&job_id),
            s(&latest),
            s("COMPLETED"),
            n(start),
            n(start + minute),
            s("COMPLETE"),
            n(start),
            n(start + minute),
            s("{}"),
            s("{}"),
            n(start),
            n(start + minute),
            s(&crate::store::io_to_stored(&io)),
        ]);
    }
    let mut all_datasets: Vec<&(String, String)> = jobs
        .iter()
        .flat_map(|j| j.versions.iter())
        .flat_map(|(_, i, o)| i.iter().chain(o))
        .collect();
    all_datasets.sort();
    all_datasets.dedup();
    let mut datasets = Columns::default();
    let mut names = Columns::default();
    let mut dataset_versions = Columns::default();
    for key in all_datasets {
        let id = ids::dataset_id(&key.0, &key.1).to_string();
        let version = version_of(key);
        let facets = super::bench_rest::SYNTHETIC_FACETS;
        datasets.push(vec![
            s(&id),
            s(&key.0),
            s(&key.1),
            s(&key.0),
            s(facets),
            s(&version),
            n(T),
            n(0),
            n(T),
        ]);
        names.push(vec![s(&id), s(&key.0), s(&key.1), s(&id)]);
        dataset_versions.push(vec![
            s(&version),
            s(&id),
            writer_run.get(key).cloned(),
            n(T),
            n(T),
            s(facets),
            s("{}"),
            s(&version),
        ]);
    }
    let text = |names: &'static [&'static str]| -> Vec<(&'static str, &'static str)> {
        names.iter().map(|c| (*c, TEXT)).collect()
    };
    let typed = |list: &'static [(&'static str, &'static str)]| list.to_vec();
    datasets
        .insert(
            &mut pg,
            "datasets",
            &typed(&[
                ("id", TEXT),
                ("namespace", TEXT),
                ("name", TEXT),
                ("source_name", TEXT),
                ("facets", TEXT),
                ("current_version_id", TEXT),
                ("current_version_time", INT),
                ("created_at", INT),
                ("updated_at", INT),
            ]),
        )
        .await?;
    names
        .insert(
            &mut pg,
            "dataset_names",
            &text(&["name_key", "namespace", "name", "dataset_id"]),
        )
        .await?;
    dataset_versions
        .insert(
            &mut pg,
            "dataset_versions",
            &typed(&[
                ("id", TEXT),
                ("dataset_id", TEXT),
                ("created_by_run", TEXT),
                ("created_at", INT),
                ("updated_at", INT),
                ("facets", TEXT),
                ("io_facets", TEXT),
                ("checksum", TEXT),
            ]),
        )
        .await?;
    job_rows
        .insert(
            &mut pg,
            "jobs",
            &typed(&[
                ("id", TEXT),
                ("namespace", TEXT),
                ("name", TEXT),
                ("facets", TEXT),
                ("created_at", INT),
                ("updated_at", INT),
            ]),
        )
        .await?;
    versions
        .insert(
            &mut pg,
            "job_versions",
            &typed(&[
                ("id", TEXT),
                ("job_id", TEXT),
                ("inputs", TEXT),
                ("outputs", TEXT),
                ("valid_from", INT),
                ("created_at", INT),
            ]),
        )
        .await?;
    runs.insert(
        &mut pg,
        "runs",
        &typed(&[
            ("uuid", TEXT),
            ("run_id", TEXT),
            ("job_id", TEXT),
            ("job_version_id", TEXT),
            ("state", TEXT),
            ("start_time", INT),
            ("terminal_time", INT),
            ("terminal_type", TEXT),
            ("first_event_time", INT),
            ("last_event_time", INT),
            ("facets", TEXT),
            ("job_facets", TEXT),
            ("created_at", INT),
            ("updated_at", INT),
            ("io", TEXT),
        ]),
    )
    .await?;
    pg.execute(
        "INSERT INTO namespaces (name, created_at, updated_at) \
         SELECT namespace, 0, 0 FROM datasets UNION SELECT namespace, 0, 0 FROM jobs",
    )
    .await?;
    pg.execute("VACUUM ANALYZE").await?;
    drop(store);
    Ok(())
}
