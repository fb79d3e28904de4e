//! `SqlStore`: the `Store` for Postgres and SQLite, over sqlx's `Any` driver. The SQL is shared;
//! the differences (types in migrations, row locks, log partitioning) are in `Backend`.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Datelike, TimeZone, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use uuid::Uuid;

use super::apply::{Announce, GRAPH_CHANNEL};
use super::dialect::{Arg, Backend, Script};
use super::hot::{self, HotRows};
use super::tx::{WritePool, WriteTx};
use super::{access, apply, catalog, keep, reads};
use super::{ColumnHistory, RetentionReport, VerifyReport, VersionTag};
use super::{
    Committed, Dataset, DatasetVersion, EventPage, EventQuery, Ingested, Job, JobVersion, Run,
    SortDirection, Store, StoreError,
};
use super::{
    DatasetTags, JobSummary, Namespace, SearchHit, SearchQuery, Source, StatsKind, Tag, TagTarget,
};
use crate::error::Cause;
use crate::model::access::{AuditEntry, KeyRecord};
use crate::model::graph::{GraphChange, GraphJob, GraphSink, HistoryFrom};
use crate::model::prepared::PreparedEvent;
use crate::model::time::Micros;
use std::collections::HashMap;

static PG_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");

/// The largest payload a notice on `GRAPH_CHANNEL` carries (Postgres allows 8000 bytes): a
/// larger change goes as several notices; a single name too long for one is announced as `*`
/// and the sender's instance, "reload everything" (for the other servers).
const NOTIFY_LIMIT: usize = 7_000;

/// A change as the notices that announce it: each under `NOTIFY_LIMIT`, together naming every
/// job and dataset of the change.
fn notices(change: &GraphChange, origin: &str) -> Vec<String> {
    let empty = || GraphChange {
        origin: origin.to_string(),
        ..Default::default()
    };
    let mut parts = vec![empty()];
    let mut size = 0;
    let entries = change
        .jobs
        .iter()
        .map(|k| (true, k))
        .chain(change.datasets.iter().map(|k| (false, k)));
    for (job, key) in entries {
        // Escaping at most doubles a name; a few bytes of JSON around each.
        let len = 2 * (key.0.len() + key.1.len()) + 8;
        if size + len > NOTIFY_LIMIT / 2 && size > 0 {
            parts.push(empty());
            size = 0;
        }
        size += len;
        let part = parts.last_mut().expect("one part at least");
        if job {
            part.jobs.push(key.clone());
        } else {
            part.datasets.push(key.clone());
        }
    }
    parts
        .iter()
        .map(|part| {
            let payload = serde_json::to_string(part).expect("change serialises");
            if payload.len() > NOTIFY_LIMIT {
                format!("*{origin}")
            } else {
                payload
            }
        })
        .collect()
}

/// Serialises writers across replicas sharing one Postgres (the argument is arbitrary).
const WRITER_LOCK: i64 = 0x7472_6962;

/// How long a request waits for a connection before it is answered `503`: while the database
/// is away, requests fail fast instead of hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Postgres' `statement_timeout` for reads and for the write path.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections kept for the write path (ingest, deletes, tags) apart from the readers' pool,
/// so that no read load can starve writers: the writer's transaction, the graph's read-back of
/// the commit before it (three reads at once), and room for a delete.
const WRITE_CONNECTIONS: u32 = 4;

/// What a pool's connections are for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PoolUse {
    /// Reads: listings and searches may scan.
    Reads,
    /// The write path: every statement finds its rows by key.
    Writes,
    /// The writer's batches (a native connection): as `Writes`, but its one prepared statement,
    /// the bound upserts, is planned once.
    Batches,
}

/// What every Postgres connection of a pool sets first.
fn postgres_settings(purpose: PoolUse) -> Vec<String> {
    let statement_timeout = match purpose {
        PoolUse::Reads => READ_TIMEOUT,
        PoolUse::Writes | PoolUse::Batches => WRITE_TIMEOUT,
    };
    let plan_cache_mode = match purpose {
        // Plan every execution with its parameters: a generic plan cached while a table was
        // small would keep scanning it whole as it grows.
        PoolUse::Reads | PoolUse::Writes => "force_custom_plan",
        // The one statement this pool prepares is the batch's upserts (the rest are scripts of
        // literals, planned as they come): inserts through each table's key, a plan that depends
        // neither on the arrays bound nor on the tables' sizes. Planned again for every batch,
        // its dozen clauses cost 0.26 ms a batch, 17 µs an event (`pg_stat_statements`, 16
        // clients); planned once, nothing.
        PoolUse::Batches => "force_generic_plan",
    };
    let mut sets = vec![
        format!("SET plan_cache_mode = {plan_cache_mode}"),
        format!("SET statement_timeout = {}", statement_timeout.as_millis()),
        // No JIT compilation: these statements are short, and planned at every execution, so
        // once a table is large enough for the planner's estimate to pass `jit_above_cost`,
        // every execution compiled its expressions with LLVM first (measured: `libLLVM` 20 %
        // of the machine, 40 % of Postgres' CPU, with 500,000 realistic events stored).
        "SET jit = off".to_string(),
    ];
    if purpose != PoolUse::Reads {
        // The write path looks rows up by key in batches (`IN (…)` lists of dozens). Before
        // autovacuum has first analyzed a growing table, the planner takes it for tiny and scans
        // it whole for such a list, so each batch costs more as the store grows (measured: 468
        // -> 206 events/s over 10k events). Keyed statements always have an index to use.
        sets.push("SET enable_seqscan = off".to_string());
    }
    sets
}

/// The writer's connections on Postgres: one batch's, the last one's releasing the writer's
/// lock (see `WriteTx::begin_batch`), and one more while a cut connection's successor opens.
const BATCH_CONNECTIONS: u32 = 3;

/// The writer's pool on Postgres: native connections (the `Any` driver cannot bind arrays),
/// set up as the `Any` pool's for writes.
async fn open_native_pool(url: &str) -> Result<sqlx::PgPool, StoreError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::UnsupportedUrl(e.to_string()))?;
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(BATCH_CONNECTIONS)
        // Not pinged when taken: that is a round trip on every batch's way. A cut connection
        // fails the batch's first statement instead, and the batch is tried again (`ingest`).
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for set in postgres_settings(PoolUse::Batches) {
                    conn.execute(set.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(StoreError::from)
}

/// A pool of connections set up for a backend.
async fn open_pool(
    options: &AnyConnectOptions,
    backend: Backend,
    max_connections: u32,
    purpose: PoolUse,
) -> Result<AnyPool, StoreError> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Postgres {
                    for set in postgres_settings(purpose) {
                        conn.execute(set.as_str()).await?;
                    }
                }
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer; FULL makes every commit durable.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(StoreError::from)
}

/// Runs a read, and once more if the connection it ran on was cut (a database restart, a
/// terminated backend): the pool hands the second attempt a fresh connection.
macro_rules! read {
    ($call:expr) => {
        match $call.await {
            Err(StoreError::Disconnected(_)) => $call.await,
            other => other,
        }
    };
}

/// The SQL store.
pub struct SqlStore {
    /// Connections for reads.
    pool: AnyPool,
    /// Connections for the write path, and the reads it makes right after a commit.
    writes: AnyPool,
    /// Where the writer's batches are stored: on Postgres a native pool of its own.
    batches: WritePool,
    url: String,
    /// Names this store in graph-change announcements.
    instance: String,
    backend: Backend,
    /// Months of the Postgres event log known to have a partition.
    partitions: Mutex<HashSet<Micros>>,
    /// The rows the writer last committed (see `hot`).
    hot: Mutex<HotRows>,
    /// Batches planned (debug builds check every other one's kept rows).
    planned: AtomicU64,
}

/// Debug builds read every row of every other batch even when kept, and check the kept against
/// them.
const CHECK_KEPT: bool = cfg!(debug_assertions);

impl SqlStore {
    /// Soft-deletes a job or dataset (`table`) and, in the same transaction, tells the other
    /// servers on this Postgres, so that their graphs hide it too (a notice is delivered only
    /// if the transaction commits); whether anything was deleted. Under the writer's lock: a
    /// batch reads the rows it rewrites without locking them.
    async fn soft_delete_node(&self, table: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = hot::begin_change(&self.writes, self.backend, WRITER_LOCK).await?;
        self.forget_kept();
        let key: Option<(String, String)> = sqlx::query_as(&format!(
            "UPDATE {table} SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL \
             RETURNING namespace, name"
        ))
        .bind(crate::model::time::now_micros())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(key) = key else {
            tx.rollback().await?;
            return Ok(false);
        };
        self.announce(&mut tx, &Self::change_of(table, key)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// On Postgres, tells the other servers that these jobs and datasets changed, delivered
    /// when the transaction it runs in commits (at once outside one).
    async fn announce(
        &self,
        conn: &mut AnyConnection,
        change: &GraphChange,
    ) -> Result<(), StoreError> {
        self.notices_script(change).run(conn).await?;
        Ok(())
    }

    /// Announces a change outside any transaction, on a connection of its own (none is taken on
    /// SQLite, where nobody listens).
    async fn announce_now(&self, change: &GraphChange) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let mut conn = self.writes.acquire().await?;
        self.announce(&mut conn, change).await
    }

    /// The statement that announces a change: one, however many notices the change takes (none
    /// on SQLite, where no other server listens).
    fn notices_script(&self, change: &GraphChange) -> Script {
        self.announcing(change, false).script(self.backend)
    }

    /// What a commit of `change` announces (no notices on SQLite, where no other server
    /// listens), and whether it moves the model's epoch on.
    fn announcing(&self, change: &GraphChange, next_epoch: bool) -> Announce {
        Announce {
            notices: match self.backend {
                Backend::Postgres => notices(change, &self.instance),
                Backend::Sqlite => Vec::new(),
            },
            next_epoch,
        }
    }

    /// The change naming one job (`table` is `jobs`) or dataset.
    fn change_of(table: &str, (namespace, name): (String, String)) -> GraphChange {
        if table == "jobs" {
            GraphChange::job(&namespace, &name)
        } else {
            GraphChange::dataset(&namespace, &name)
        }
    }

    /// Connects to the database a URL names. A SQLite file is created if missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend =
            Backend::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::UnsupportedUrl(e.to_string()))?;
        let pool = open_pool(&options, backend, max_connections.max(1), PoolUse::Reads).await?;
        let writes = if url.contains(":memory:") {
            pool.clone() // one database per connection: writes must see the same one
        } else {
            open_pool(&options, backend, WRITE_CONNECTIONS, PoolUse::Writes).await?
        };
        let batches = match backend {
            Backend::Postgres => WritePool::Pg(open_native_pool(&url).await?),
            Backend::Sqlite => WritePool::Any(writes.clone(), backend),
        };
        Ok(SqlStore {
            pool,
            writes,
            batches,
            url,
            instance: Uuid::new_v4().to_string(),
            backend,
            partitions: Mutex::new(HashSet::new()),
            hot: Mutex::new(HotRows::default()),
            planned: AtomicU64::new(0),
        })
    }

    /// Search by substring wants trigram indexes, which need the `pg_trgm` extension. Creating
    /// it needs a privilege not every deployment grants, so this is best effort: without it,
    /// search still answers, by scanning.
    async fn trigram_indexes(&self) {
        let statements = [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "CREATE INDEX IF NOT EXISTS datasets_name_trgm ON datasets USING gin (LOWER(name) gin_trgm_ops)",
            "CREATE INDEX IF NOT EXISTS jobs_name_trgm ON jobs USING gin (LOWER(name) gin_trgm_ops)",
        ];
        for sql in statements {
            if let Err(e) = self.pool.execute(sql).await {
                tracing::warn!(error = %e, "search will scan: could not create trigram indexes ({sql})");
                return;
            }
        }
    }

    /// The pool, for the rare caller (benchmarks) that needs raw SQL.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Adds to `script` what creates the log's partitions for the months of `times` that this
    /// process has not seen yet; answers those months.
    fn partitions_for(&self, script: &mut Script, times: &[Micros]) -> Vec<Micros> {
        let mut created = Vec::new();
        if self.backend != Backend::Postgres {
            return created;
        }
        let months: HashSet<Micros> = times.iter().map(|t| month_start(*t).0).collect();
        let known = self.partitions.lock().expect("partition cache");
        for month in months {
            if known.contains(&month) {
                continue;
            }
            let (from, to, name) = month_bounds(month);
            script.sql(&format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF lineage_events FOR VALUES FROM ({from}) TO ({to})"
            ));
            script.end();
            script
                .sql("INSERT INTO lineage_event_partitions (month_start, table_name) VALUES (")
                .values(&[from.into(), name.into()])
                .sql(") ON CONFLICT DO NOTHING");
            script.end();
            created.push(month);
        }
        created
    }

    /// Forgets the rows the writer kept.
    fn forget_kept(&self) {
        self.hot.lock().expect("kept rows").forget();
    }

    async fn ingest_batch(&self, batch: &[PreparedEvent]) -> Result<Committed, StoreError> {
        let done = self.ingest_kept(batch).await;
        if done.is_err() {
            // Whether it committed is not known everywhere (a connection cut after the
            // `COMMIT`): nothing kept is trusted.
            self.forget_kept();
        }
        done
    }

    async fn ingest_kept(&self, batch: &[PreparedEvent]) -> Result<Committed, StoreError> {
        // The same event twice in one batch: only the first counts.
        let mut seen = HashSet::new();
        let firsts: Vec<bool> = batch.iter().map(|p| seen.insert(p.hash)).collect();
        let unique: Vec<&PreparedEvent> = batch
            .iter()
            .zip(&firsts)
            .filter(|(_, f)| **f)
            .map(|(p, _)| p)
            .collect();

        let started = std::time::Instant::now();
        let mut plan = apply::Plan::new(self.backend, &unique);
        // Debug builds check every other batch's kept rows against the store, and use them
        // for the rest, so that tests run both ways.
        let check = CHECK_KEPT && self.planned.fetch_add(1, Ordering::Relaxed) % 2 == 0;
        plan.use_kept(&self.hot.lock().expect("kept rows"), check);
        // One writer at a time, across servers: the lock is taken with the `BEGIN`, and in the
        // same round trip the stored rows the batch touches are read and the log learns which
        // events it holds already. On a native Postgres connection the new events go into the
        // log with the model's upserts, their bodies bound rather than written out as literals
        // (under the lock nobody else logs events meanwhile); otherwise they go in here, each
        // insert answering the hashes it stored.
        let bound_log = matches!(self.batches, WritePool::Pg(_));
        let times: Vec<Micros> = unique.iter().map(|p| p.event.event_time).collect();
        let mut script = Script::new(self.backend);
        let new_months = self.partitions_for(&mut script, &times);
        let made = script.statements();
        script.sql("SELECT epoch FROM model_epoch").end();
        if bound_log {
            stored_hashes(&mut script, &unique);
        } else {
            insert_raw(&mut script, &unique);
        }
        let logging = script.statements();
        script.append(plan.reads());
        let (mut tx, mut answers) =
            WriteTx::begin_batch(&self.batches, WRITER_LOCK, script).await?;
        let reads = answers.split_off(logging);
        let epoch: i64 = match answers[made].first() {
            Some(row) => row.try_get(0)?,
            None => {
                return Err(StoreError::Corrupt(Cause::msg(
                    "the model's epoch is missing",
                )))
            }
        };
        if plan.leans_on(epoch) {
            // Another server or process changed the model since this one's last commit: what
            // it kept may be stale. Once more, without (the transaction rolls back with its
            // connection, before it wrote anything).
            drop(tx);
            self.forget_kept();
            return Box::pin(self.ingest_kept(batch)).await;
        }
        let mut hashes = HashSet::new();
        for row in answers.iter().skip(made + 1).flatten() {
            hashes.insert(row.try_get::<Vec<u8>, _>(0)?);
        }
        // The hashes the log took, or (bound) those it held already.
        let is_new = |p: &PreparedEvent| hashes.contains(p.hash.as_slice()) != bound_log;
        let (fresh, known): (Vec<&PreparedEvent>, Vec<&PreparedEvent>) =
            unique.into_iter().partition(|p| is_new(p));
        let logged = started.elapsed();
        let apply::Applied {
            cuts,
            mut delta,
            mut writes,
            kept,
        } = plan.apply(&mut tx.conn(), reads, &fresh).await?;
        if bound_log && !fresh.is_empty() {
            writes.log(LOG_COLUMNS, fresh.iter().map(|p| log_row(p)).collect());
        }
        // What the graph must read back: what the new events name, and the datasets their
        // names resolved to.
        let mut change = GraphChange::of(fresh.iter().copied());
        change.jobs.extend(cuts.jobs.keys().cloned());
        change.datasets.extend(cuts.columns.keys().cloned());
        for list in [&mut change.jobs, &mut change.datasets] {
            list.sort();
            list.dedup();
        }
        change.cuts = cuts;
        // Delivered to every listener when (and only if) the batch commits; sent with its
        // writes.
        let (announce, next) = if fresh.is_empty() {
            (Announce::nothing(), epoch)
        } else {
            (self.announcing(&change, true), epoch + 1)
        };
        if !known.is_empty() {
            // Events stored before change nothing, but what they name is read back whole: a
            // graph that missed them (another server wrote them, on a store that announces
            // nothing) catches up when they are sent again.
            let known = GraphChange::of(known);
            change.merge(known.clone());
            delta.read_back.merge(known);
        }
        let applied = started.elapsed();
        // The writes, the notices and the commit.
        tx.commit(writes, announce, self.backend).await?;
        self.hot.lock().expect("kept rows").keep(kept, epoch, next);
        tracing::debug!(events = batch.len(), ?logged, ?applied, total = ?started.elapsed(), "batch committed");
        self.partitions
            .lock()
            .expect("partition cache")
            .extend(new_months);

        let results = batch
            .iter()
            .zip(firsts)
            .map(|(p, first)| {
                if first && is_new(p) {
                    Ingested::Stored
                } else {
                    Ingested::Duplicate
                }
            })
            .collect();
        Ok(Committed {
            results,
            change,
            delta: Some(delta),
        })
    }
}

/// The raw log's columns, as [`log_row`] gives them.
const LOG_COLUMNS: &[&str] = &[
    "hash",
    "event_time",
    "received_at",
    "kind",
    "event_type",
    "run_uuid",
    "job_namespace",
    "job_name",
    "producer",
    "body",
    "body_len",
    "warnings",
];

/// An event's row in the raw log: its body compressed.
fn log_row(p: &PreparedEvent) -> Vec<Arg> {
    let e = &p.event;
    vec![
        p.hash.to_vec().into(),
        e.event_time.into(),
        p.received_at.into(),
        e.kind.as_str().into(),
        e.event_type.map(|t| t.as_str().to_string()).into(),
        e.run.as_ref().map(|r| r.uuid.to_string()).into(),
        e.job.as_ref().map(|j| j.namespace.clone()).into(),
        e.job.as_ref().map(|j| j.name.clone()).into(),
        e.producer.clone().into(),
        p.body.clone().into(),
        (p.body_len as i64).into(),
        (!p.warnings.is_empty())
            .then(|| serde_json::to_string(&p.warnings).expect("warnings serialise"))
            .into(),
    ]
}

/// Adds to `script` the statements that put events into the raw log, each answering the hashes
/// of those it stored (those already there are left).
fn insert_raw(script: &mut Script, batch: &[&PreparedEvent]) {
    for chunk in batch.chunks(500) {
        script
            .sql("INSERT INTO lineage_events (")
            .sql(&LOG_COLUMNS.join(", "))
            .sql(") VALUES ");
        for (i, p) in chunk.iter().enumerate() {
            script
                .sql(if i == 0 { "(" } else { ", (" })
                .values(&log_row(p))
                .sql(")");
        }
        script.sql(" ON CONFLICT (hash, event_time) DO NOTHING RETURNING hash");
        script.end();
    }
}

/// Adds to `script` the statements that answer the hashes of the batch's events the raw log
/// holds already.
fn stored_hashes(script: &mut Script, batch: &[&PreparedEvent]) {
    for chunk in batch.chunks(500) {
        script.sql("SELECT hash FROM lineage_events WHERE (hash, event_time) IN (");
        for (i, p) in chunk.iter().enumerate() {
            let key: [Arg; 2] = [p.hash.to_vec().into(), p.event.event_time.into()];
            script
                .sql(if i == 0 { "(" } else { ", (" })
                .values(&key)
                .sql(")");
        }
        script.sql(")");
        script.end();
    }
}

/// The first microsecond of the month a time falls in, and its `YYYYMM` label.
fn month_start(t: Micros) -> (Micros, i32) {
    let d = crate::model::time::from_micros(t);
    let start = Utc
        .with_ymd_and_hms(d.year(), d.month(), 1, 0, 0, 0)
        .single()
        .expect("first of month");
    (start.timestamp_micros(), d.year() * 100 + d.month() as i32)
}

/// The first microsecond after the month that starts at `month`.
pub(super) fn month_end(month: Micros) -> Micros {
    month_bounds(month).1
}

/// The range and table name of the partition for a month.
fn month_bounds(month: Micros) -> (Micros, Micros, String) {
    let d = crate::model::time::from_micros(month);
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .expect("first of month")
        .timestamp_micros();
    let label = month_start(month).1;
    let name = if label < 0 {
        format!("lineage_events_bc{}", -label)
    } else {
        format!("lineage_events_p{label:06}")
    };
    (month, next, name)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Postgres => &PG_MIGRATIONS,
            Backend::Sqlite => &SQLITE_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(Cause::new(e)))?;
        if self.backend == Backend::Postgres {
            self.trigram_indexes().await;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await.map_err(StoreError::from)
    }

    #[tracing::instrument(skip_all, fields(events = batch.len()))]
    async fn ingest(&self, batch: &[PreparedEvent]) -> Result<Committed, StoreError> {
        match self.ingest_batch(batch).await {
            Ok(done) => Ok(done),
            // The connection was cut: again on another. Safe even if the cut came after the
            // commit reached the database: the log is keyed by content hash, so the events come
            // back as duplicates and the answer (committed) is right either way. What the graph
            // must read back is then unknown: everything the batch names, whole. The writer's
            // connections are not tested when taken (see `open_native_pool`), so after a
            // restart every idle one is cut: one more try for each the pool may hold.
            Err(StoreError::Disconnected(mut cause)) => {
                for _ in 0..BATCH_CONNECTIONS {
                    tracing::warn!(cause = %cause, "connection cut during ingest; trying again");
                    match self.ingest_batch(batch).await {
                        Ok(mut done) => {
                            done.change = GraphChange::of(batch);
                            done.delta = None;
                            return Ok(done);
                        }
                        Err(StoreError::Disconnected(again)) => cause = again,
                        Err(e) => return Err(e),
                    }
                }
                Err(StoreError::Disconnected(cause))
            }
            // The database is away: trying again now would only make the client wait longer.
            Err(e @ StoreError::Unavailable(_)) => Err(e),
            Err(e) => {
                // A partition this process created may have been dropped since (by `retention`
                // in another process): forget them all and try once more, making sure again.
                let stale = {
                    let mut known = self.partitions.lock().expect("partition cache");
                    let stale = !known.is_empty();
                    known.clear();
                    stale
                };
                if stale {
                    self.ingest_batch(batch).await
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn replay(&self, batch: &[PreparedEvent]) -> Result<(), StoreError> {
        // Nothing kept: `rebuild` replays into a model it has just cleared.
        self.forget_kept();
        let all: Vec<&PreparedEvent> = batch.iter().collect();
        let mut plan = apply::Plan::new(self.backend, &all);
        let (mut tx, reads) = WriteTx::begin(&self.batches, WRITER_LOCK, plan.reads()).await?;
        let applied = plan.apply(&mut tx.conn(), reads, &all).await?;
        let announce = Announce {
            next_epoch: true,
            ..Announce::nothing()
        };
        tx.commit(applied.writes, announce, self.backend).await?;
        Ok(())
    }

    async fn list_events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        let order = match q.direction {
            SortDirection::Asc => "ASC",
            SortDirection::Desc => "DESC",
        };
        let sql = format!(
            "SELECT body FROM lineage_events WHERE event_time <= $1 AND event_time >= $2 \
             ORDER BY event_time {order}, seq {order} LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(&sql)
            .bind(q.before)
            .bind(q.after)
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(&self.pool)
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let body = decompress(&row.try_get::<Vec<u8>, _>(0)?)?;
            events.push(
                serde_json::from_slice(&body).map_err(|e| StoreError::Corrupt(Cause::new(e)))?,
            );
        }
        let total_count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM lineage_events WHERE event_time <= $1 AND event_time >= $2",
        )
        .bind(q.before)
        .bind(q.after)
        .fetch_one(&self.pool)
        .await?;
        Ok(EventPage {
            events,
            total_count,
        })
    }

    async fn event_bodies(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, body FROM lineage_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>(0)?,
                    decompress(&r.try_get::<Vec<u8>, _>(1)?)?,
                ))
            })
            .collect()
    }

    async fn clear_model(&self) -> Result<(), StoreError> {
        let mut tx = hot::begin_change(&self.writes, self.backend, WRITER_LOCK).await?;
        self.forget_kept();
        for table in apply::MODEL_TABLES {
            tx.execute(format!("DELETE FROM {table}").as_str()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn dataset(&self, namespace: &str, name: &str) -> Result<Option<Dataset>, StoreError> {
        read!(reads::dataset(&self.pool, namespace, name))
    }

    async fn dataset_versions(&self, dataset_id: &str) -> Result<Vec<DatasetVersion>, StoreError> {
        read!(reads::dataset_versions(&self.pool, dataset_id))
    }

    async fn job(&self, namespace: &str, name: &str) -> Result<Option<Job>, StoreError> {
        read!(reads::job(&self.pool, namespace, name))
    }

    async fn job_versions(&self, job_id: &str) -> Result<Vec<JobVersion>, StoreError> {
        read!(reads::job_versions(&self.pool, job_id))
    }

    async fn run(&self, run: Uuid) -> Result<Option<Run>, StoreError> {
        read!(reads::run(&self.pool, run))
    }

    async fn event_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM lineage_events")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn namespaces(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Namespace>, i64), StoreError> {
        read!(catalog::namespaces(&self.pool, limit, offset))
    }

    async fn namespace(&self, name: &str) -> Result<Option<Namespace>, StoreError> {
        read!(catalog::namespace(&self.pool, name))
    }

    async fn put_namespace(
        &self,
        name: &str,
        owner: Option<&str>,
        description: Option<&str>,
    ) -> Result<Namespace, StoreError> {
        catalog::put_namespace(&self.writes, name, owner, description).await
    }

    async fn delete_namespace(&self, name: &str) -> Result<bool, StoreError> {
        catalog::soft_delete(&self.writes, "namespaces", "name", name).await
    }

    async fn sources(&self, limit: i64, offset: i64) -> Result<(Vec<Source>, i64), StoreError> {
        read!(catalog::sources(&self.pool, limit, offset))
    }

    async fn source(&self, name: &str) -> Result<Option<Source>, StoreError> {
        read!(catalog::source(&self.pool, name))
    }

    async fn datasets(
        &self,
        namespace: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Dataset>, i64), StoreError> {
        read!(catalog::datasets(&self.pool, namespace, limit, offset))
    }

    async fn delete_dataset(&self, dataset_id: &str) -> Result<bool, StoreError> {
        self.soft_delete_node("datasets", dataset_id).await
    }

    async fn dataset_tags(
        &self,
        dataset_ids: &[String],
    ) -> Result<HashMap<String, DatasetTags>, StoreError> {
        read!(catalog::dataset_tags(&self.pool, dataset_ids))
    }

    async fn jobs(
        &self,
        namespace: Option<&str>,
        states: &[String],
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobSummary>, i64), StoreError> {
        read!(catalog::jobs(&self.pool, namespace, states, limit, offset))
    }

    async fn job_summary(&self, job: Job) -> Result<JobSummary, StoreError> {
        Ok(catalog::summarise_jobs(&self.pool, vec![job])
            .await?
            .pop()
            .expect("one job in, one out"))
    }

    async fn delete_job(&self, job_id: &str) -> Result<bool, StoreError> {
        self.soft_delete_node("jobs", job_id).await
    }

    async fn job_runs(
        &self,
        job_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Run>, i64), StoreError> {
        read!(catalog::job_runs(&self.pool, job_id, limit, offset))
    }

    async fn tags(&self) -> Result<Vec<Tag>, StoreError> {
        read!(catalog::tags(&self.pool))
    }

    async fn put_tag(&self, name: &str, description: Option<&str>) -> Result<Tag, StoreError> {
        catalog::put_tag(&self.writes, name, description).await
    }

    async fn set_tag(&self, target: TagTarget<'_>, tag: &str, on: bool) -> Result<(), StoreError> {
        catalog::set_tag(&self.writes, target, tag, on).await?;
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        // The other servers forget the node's rendered data (its tags are part of it).
        let (table, id) = match target {
            TagTarget::Dataset(id) | TagTarget::Field(id, _) => ("datasets", id),
            TagTarget::Job(id) => ("jobs", id),
        };
        let key: Option<(String, String)> = sqlx::query_as(&format!(
            "SELECT namespace, name FROM {table} WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.writes)
        .await?;
        if let Some(key) = key {
            self.announce_now(&Self::change_of(table, key)).await?;
        }
        Ok(())
    }

    async fn dataset_names(
        &self,
        dataset_ids: &[String],
    ) -> Result<HashMap<String, (String, String)>, StoreError> {
        read!(catalog::dataset_names(&self.pool, dataset_ids))
    }

    async fn graph_notices(&self) -> Option<tokio::sync::mpsc::Receiver<super::GraphNotice>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let url = self.url.clone();
        let me = self.instance.clone();
        tokio::spawn(async move {
            let mut listener = loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut l) => match l.listen(GRAPH_CHANNEL).await {
                        Ok(()) => break l,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot listen for graph changes; retrying")
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for graph changes; retrying")
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            };
            loop {
                let notice = match listener.try_recv().await {
                    // `*` and the sender: reload everything, unless this server sent it.
                    Ok(Some(n)) if n.payload().starts_with('*') => {
                        if n.payload()[1..] == *me {
                            continue;
                        }
                        super::GraphNotice::Resync
                    }
                    Ok(Some(n)) => match serde_json::from_str::<GraphChange>(n.payload()) {
                        Ok(change) if change.origin == me => continue,
                        Ok(change) => super::GraphNotice::Changed(Box::new(change)),
                        Err(_) => super::GraphNotice::Resync,
                    },
                    // The connection dropped and is being re-established: changes may be missed.
                    Ok(None) => super::GraphNotice::Resync,
                    Err(e) => {
                        tracing::warn!(error = %e, "graph change listener failed; resyncing");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        super::GraphNotice::Resync
                    }
                };
                if tx.send(notice).await.is_err() {
                    return;
                }
            }
        });
        Some(rx)
    }

    async fn stats(
        &self,
        kind: StatsKind,
        start: Micros,
        width: Micros,
        buckets: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        read!(catalog::stats(&self.pool, kind, start, width, buckets))
    }

    async fn graph_jobs(&self, keys: &[HistoryFrom]) -> Result<Vec<GraphJob>, StoreError> {
        catalog::graph_jobs(&self.writes, keys).await
    }

    async fn load_graph(&self, sink: &mut dyn GraphSink) -> Result<(), StoreError> {
        match self.backend {
            Backend::Postgres => super::snapshot::load_postgres(&self.url, sink).await,
            Backend::Sqlite => super::snapshot::load(&self.pool, sink).await,
        }
    }

    async fn graph_datasets(
        &self,
        keys: Option<&[(String, String)]>,
    ) -> Result<Vec<super::GraphDataset>, StoreError> {
        catalog::graph_datasets(&self.writes, keys).await
    }

    async fn graph_columns(
        &self,
        keys: Option<&[HistoryFrom]>,
    ) -> Result<Vec<ColumnHistory>, StoreError> {
        catalog::graph_columns(&self.writes, keys).await
    }

    async fn node_details(
        &self,
        datasets: &[(String, String)],
        jobs: &[(String, String)],
    ) -> Result<(Vec<Dataset>, Vec<JobSummary>), StoreError> {
        read!(catalog::node_details(&self.pool, datasets, jobs))
    }

    async fn latest_run_states(
        &self,
        jobs: &[(String, String)],
    ) -> Result<HashMap<(String, String), String>, StoreError> {
        read!(catalog::latest_run_states(&self.pool, jobs))
    }

    async fn version_tags(
        &self,
        dataset_id: &str,
        history: bool,
    ) -> Result<Vec<VersionTag>, StoreError> {
        read!(keep::version_tags(&self.pool, dataset_id, history))
    }

    async fn tagged_versions(&self) -> Result<Vec<(String, String, String, String)>, StoreError> {
        read!(keep::tagged_versions(&self.pool))
    }

    async fn set_version_tag(
        &self,
        dataset_id: &str,
        version_id: &str,
        tag: &str,
        on: bool,
    ) -> Result<bool, StoreError> {
        keep::set_version_tag(&self.writes, self.backend, dataset_id, version_id, tag, on).await
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        read!(keep::verify(&self.pool))
    }

    async fn retention(
        &self,
        cutoff: Micros,
        dry_run: bool,
    ) -> Result<RetentionReport, StoreError> {
        let report =
            keep::retention(&self.writes, self.backend, cutoff, dry_run, WRITER_LOCK).await;
        self.partitions.lock().expect("partition cache").clear();
        self.forget_kept();
        let report = report?;
        // The other servers forget the rendered data of jobs whose latest run may have gone.
        if !report.jobs.is_empty() {
            let change = GraphChange {
                jobs: report.jobs.clone(),
                ..Default::default()
            };
            if let Err(e) = self.announce_now(&change).await {
                tracing::warn!(error = %e, "could not tell other servers what retention removed");
            }
        }
        Ok(report)
    }

    async fn search(&self, query: &SearchQuery) -> Result<(Vec<SearchHit>, i64), StoreError> {
        read!(catalog::search(&self.pool, query))
    }

    fn pools(&self) -> Vec<super::PoolStats> {
        fn stats<DB: sqlx::Database>(
            name: &'static str,
            pool: &sqlx::Pool<DB>,
        ) -> super::PoolStats {
            super::PoolStats {
                name,
                open: pool.size(),
                idle: pool.num_idle() as u32,
                max: pool.options().get_max_connections(),
            }
        }
        let mut pools = vec![stats("read", &self.pool), stats("write", &self.writes)];
        if let WritePool::Pg(pool) = &self.batches {
            pools.push(stats("batches", pool));
        }
        pools
    }

    async fn create_key(&self, key: &KeyRecord) -> Result<bool, StoreError> {
        access::create_key(&self.writes, key).await
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        read!(access::keys(&self.pool))
    }

    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        read!(access::key(&self.pool, id))
    }

    async fn revoke_key(&self, name: &str) -> Result<bool, StoreError> {
        access::revoke_key(&self.writes, name, crate::model::time::now_micros()).await
    }

    async fn has_keys(&self) -> Result<bool, StoreError> {
        read!(access::has_keys(&self.pool))
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        access::record_audit(&self.writes, entry).await
    }

    async fn audit(&self, limit: i64, offset: i64) -> Result<(Vec<AuditEntry>, i64), StoreError> {
        read!(access::audit(&self.pool, limit, offset))
    }
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    lz4_flex::decompress_size_prepended(bytes)
        .map_err(|e| StoreError::Corrupt(Cause::msg(format!("event body: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_whole_months() {
        let t = crate::model::time::to_micros(Utc.with_ymd_and_hms(2024, 12, 15, 3, 0, 0).unwrap());
        let (start, _) = month_start(t);
        let (from, to, name) = month_bounds(start);
        assert_eq!(name, "lineage_events_p202412");
        assert!(from <= t && t < to);
        assert_eq!(crate::model::time::iso(to), "2025-01-01T00:00:00.000Z");
    }

    /// Every pool's connections on Postgres: never JIT-compiled; planned at each execution, but
    /// for the writer's batches, whose one prepared statement (the upserts) is planned once.
    #[tokio::test]
    async fn postgres_connections_plan_each_execution_without_jit() {
        let Ok(url) = std::env::var("TRIBUTARY_TEST_DATABASE_URL") else {
            return;
        };
        let store = SqlStore::connect(&url, 1).await.unwrap();
        let show = "SELECT current_setting('jit') || ' ' || current_setting('plan_cache_mode')";
        let WritePool::Pg(batches) = &store.batches else {
            panic!("the writer's batches go on a native pool on Postgres")
        };
        let settings = [
            sqlx::query_scalar::<_, String>(show)
                .fetch_one(&store.pool)
                .await
                .unwrap(),
            sqlx::query_scalar::<_, String>(show)
                .fetch_one(&store.writes)
                .await
                .unwrap(),
            sqlx::query_scalar::<_, String>(show)
                .fetch_one(batches)
                .await
                .unwrap(),
        ];
        assert_eq!(
            settings,
            [
                "off force_custom_plan",
                "off force_custom_plan",
                "off force_generic_plan"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn a_large_change_goes_as_several_notices_each_under_the_limit() {
        let name = |i: usize| (format!("ns\"{i}"), format!("{i}-{}", "x".repeat(90)));
        let change = GraphChange {
            jobs: (0..40).map(name).collect(),
            datasets: (40..200).map(name).collect(),
            ..Default::default()
        };
        let sent = notices(&change, "me");
        assert!(sent.len() > 4, "{}", sent.len());
        let mut back = GraphChange::default();
        for n in &sent {
            assert!(n.len() <= NOTIFY_LIMIT, "{}", n.len());
            let part: GraphChange = serde_json::from_str(n).unwrap();
            assert_eq!(part.origin, "me");
            back.jobs.extend(part.jobs);
            back.datasets.extend(part.datasets);
        }
        assert_eq!((back.jobs, back.datasets), (change.jobs, change.datasets));
        // One name too long for any notice: "reload everything", from whom.
        let huge = GraphChange::dataset("ns", &"y".repeat(NOTIFY_LIMIT));
        assert_eq!(notices(&huge, "me"), vec!["*me".to_string()]);
        assert_eq!(notices(&GraphChange::default(), "me").len(), 1);
    }
}
