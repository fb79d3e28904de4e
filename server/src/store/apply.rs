//! Persists a batch of new events inside the writer's transaction: reads the stored rows the
//! batch touches for the pure normalizer (`model::normalize`, which holds every rule of the
//! model), and writes the change set it answers with one upsert per table (multi-row statements
//! of literals, or on Postgres one statement of arrays bound per column). No merging happens
//! here.

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, FromRow, PgConnection, Row};

use super::dialect::{Arg, Backend, Script};
use super::hot::{Found, HotRows, Kept, Name, NEXT_EPOCH};
use super::rows::*;
use super::StoreError;
use crate::model::event::LineageEvent;
use crate::model::graph::{Cuts, GraphDelta};
use crate::model::ids;
use crate::model::normalize::{
    self, ChangeSet, DatasetState, IoKey, IoState, JobState, Normalizer, RunEntry, Stored,
    StoredJobVersion, VersionState, Wanted,
};
use crate::model::prepared::PreparedEvent;
use crate::model::time::{self, Micros};
use crate::model::{FacetState, RunTimeline};

/// Tables derived from the event log; `rebuild` empties and refills them.
pub(super) const MODEL_TABLES: &[&str] = &[
    "namespaces",
    "sources",
    "datasets",
    "dataset_names",
    "dataset_versions",
    "jobs",
    "job_versions",
    "runs",
];

/// The connection a batch's transaction runs on: the `Any` driver's (SQLite), or a native
/// Postgres one, on which the upserts are sent as arrays bound to one prepared statement instead
/// of literals the server must lex and plan. A native connection may hold the writer's lock for
/// its session, outside any transaction (see `tx::WriteTx::begin_batch`): then its flag says
/// whether a transaction has been opened since, and until one is, each statement commits on its
/// own.
pub(super) enum Conn<'a> {
    Any(&'a mut AnyConnection),
    Pg(&'a mut PgConnection, &'a mut bool),
}

impl Conn<'_> {
    /// Runs a script in one round trip; the rows of each statement.
    pub async fn run(&mut self, script: Script) -> Result<Vec<Vec<AnyRow>>, StoreError> {
        Ok(match self {
            Conn::Any(c) => script.run(c).await?,
            Conn::Pg(c, _) => script.run_pg(c).await?,
        })
    }

    /// Makes the writes that follow commit together, with the `COMMIT`: opens a transaction if
    /// none is (the `Any` driver's connection always is in one).
    async fn hold(&mut self) -> Result<(), StoreError> {
        if let Conn::Pg(c, open) = self {
            if !**open {
                Executor::execute(&mut **c, "BEGIN").await?;
                **open = true;
            }
        }
        Ok(())
    }
}

/// The channel graph changes are announced on (written into statements as it is).
pub(super) const GRAPH_CHANNEL: &str = "tributary_graph";

/// What a batch's commit tells the other servers and the writers after it: notices on
/// [`GRAPH_CHANNEL`] (delivered only if it commits) and whether the model's epoch moves on.
pub(super) struct Announce {
    pub notices: Vec<String>,
    pub next_epoch: bool,
}

impl Announce {
    /// No notices, the epoch where it is.
    pub fn nothing() -> Announce {
        Announce {
            notices: Vec::new(),
            next_epoch: false,
        }
    }

    /// As statements to run before a transaction's `COMMIT`.
    pub fn script(&self, backend: Backend) -> Script {
        let mut script = Script::new(backend);
        if !self.notices.is_empty() {
            script
                .sql("SELECT pg_notify(")
                .text(GRAPH_CHANNEL)
                .sql(", p) FROM (VALUES ");
            for (i, p) in self.notices.iter().enumerate() {
                script
                    .sql(if i == 0 { "(" } else { ", (" })
                    .text(p)
                    .sql(")");
            }
            script.sql(") AS v(p)");
            script.end();
        }
        if self.next_epoch {
            script.sql(NEXT_EPOCH).end();
        }
        script
    }
}

/// One read on its own, as [`Reads`] sends several.
async fn load<T>(
    tx: &mut Conn<'_>,
    backend: Backend,
    select: &str,
    key: &str,
    ids: &[String],
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    let mut reads = Reads::new(backend);
    reads.add(select, key, ids);
    reads.run(tx).await?.take()
}

/// Reads sent together as one script: each `{select} WHERE {key} IN (…)`, a thousand
/// ids a statement; [`Answers::take`] hands back each read's rows in the order they were added.
struct Reads {
    script: Script,
    /// How many statements each read took, in order.
    counts: Vec<usize>,
}

impl Reads {
    fn new(backend: Backend) -> Self {
        Reads {
            script: Script::new(backend),
            counts: Vec::new(),
        }
    }

    fn add(&mut self, select: &str, key: &str, ids: &[String]) {
        let before = self.script.statements();
        for chunk in ids.chunks(1000) {
            self.script.sql(select).sql(" WHERE ").sql(key).sql(" IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    self.script.sql(", ");
                }
                self.script.text(id);
            }
            self.script.sql(")");
            self.script.end();
        }
        self.counts.push(self.script.statements() - before);
    }

    /// Runs them all in one round trip; each read's rows, in the order they were added.
    async fn run(self, tx: &mut Conn<'_>) -> Result<Answers, StoreError> {
        let groups = tx.run(self.script).await?;
        Ok(Answers {
            groups: groups.into_iter(),
            counts: self.counts.into_iter(),
        })
    }
}

struct Answers {
    groups: std::vec::IntoIter<Vec<AnyRow>>,
    counts: std::vec::IntoIter<usize>,
}

impl Answers {
    /// The next read's rows.
    fn take<T>(&mut self) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let n = self.counts.next().expect("one answer per read");
        let mut out = Vec::new();
        for rows in self.groups.by_ref().take(n) {
            for row in &rows {
                out.push(T::from_row(row)?);
            }
        }
        Ok(out)
    }
}

/// What an upsert does with a row already stored under its key.
#[derive(Clone, Copy)]
enum OnConflict<'a> {
    /// Leaves it.
    Nothing,
    /// Writes every column.
    Update,
    /// Writes every column but this one where the new row has it empty: that stays as stored.
    UpdateKeepingEmpty(&'a str),
}

/// A batch's upserts not sent yet, one per table: multi-row statements of literals in one
/// script, or, on a native Postgres connection, rows to bind ([`Pending::send`]).
pub(super) enum Pending {
    Script(Script),
    Bound(Vec<TableRows>),
}

/// One table's upsert, its values by row.
pub(super) struct TableRows {
    table: &'static str,
    cols: &'static [&'static str],
    key: &'static [&'static str],
    on_conflict: OnConflict<'static>,
    rows: Vec<Vec<Arg>>,
}

impl Pending {
    /// No upserts yet, in the form `tx` sends them: bound rows on a native Postgres connection,
    /// a script of literals on the `Any` driver's.
    fn new(tx: &Conn<'_>, backend: Backend) -> Pending {
        match tx {
            Conn::Pg(..) => Pending::Bound(Vec::new()),
            Conn::Any(_) => Pending::Script(Script::new(backend)),
        }
    }

    /// Adds one table's upsert (no two touch the same table, and no table has a foreign key to
    /// check between them).
    fn add(
        &mut self,
        table: &'static str,
        cols: &'static [&'static str],
        key: &'static [&'static str],
        on_conflict: OnConflict<'static>,
        rows: Vec<Vec<Arg>>,
    ) {
        if rows.is_empty() {
            return;
        }
        let s = match self {
            Pending::Bound(tables) => {
                tables.push(TableRows {
                    table,
                    cols,
                    key,
                    on_conflict,
                    rows,
                });
                return;
            }
            Pending::Script(s) => s,
        };
        s.sql("INSERT INTO ")
            .sql(table)
            .sql(" (")
            .sql(&cols.join(", "))
            .sql(") VALUES ");
        for (i, row) in rows.iter().enumerate() {
            s.sql(if i == 0 { "(" } else { ", (" }).values(row).sql(")");
        }
        s.sql(" ")
            .sql(&conflict_clause(table, cols, key, on_conflict));
        s.end();
    }
}

/// `ON CONFLICT (key) DO …` for an upsert into `table`.
fn conflict_clause(
    table: &str,
    cols: &[&str],
    key: &[&str],
    on_conflict: OnConflict<'_>,
) -> String {
    let set = |c: &&str| match on_conflict {
        OnConflict::UpdateKeepingEmpty(k) if k == *c => {
            format!("{c} = CASE WHEN excluded.{c} = '' THEN {table}.{c} ELSE excluded.{c} END")
        }
        _ => format!("{c} = excluded.{c}"),
    };
    let action = match on_conflict {
        OnConflict::Nothing => "DO NOTHING".to_string(),
        OnConflict::Update | OnConflict::UpdateKeepingEmpty(_) => {
            let sets: Vec<String> = cols.iter().filter(|c| !key.contains(c)).map(set).collect();
            format!("DO UPDATE SET {}", sets.join(", "))
        }
    };
    format!("ON CONFLICT ({}) {action}", key.join(", "))
}

/// A column's values as one array to bind.
enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bytes(Vec<Vec<u8>>),
}

impl Column {
    fn type_name(&self) -> &'static str {
        match self {
            Column::Text(_) => "text",
            Column::Int(_) => "int8",
            Column::Bytes(_) => "bytea",
        }
    }
}

impl Pending {
    /// Sends the upserts: a script's ahead of `then` (in its round trip), bound rows as one
    /// statement of data-modifying `WITH` clauses over `unnest` of one array per column (its
    /// text depends only on which tables have rows, so each connection prepares it once), then
    /// `then`. If a statement fails, what follows does not run.
    async fn send(self, tx: &mut Conn<'_>, then: Script) -> Result<(), StoreError> {
        match (self, tx) {
            (Pending::Script(mut script), tx) => {
                script.append(then);
                tx.run(script).await?;
            }
            (Pending::Bound(tables), Conn::Pg(conn, _)) => {
                if !tables.is_empty() {
                    execute_bound(conn, bound_upserts(tables, None)).await?;
                }
                then.run_pg(conn).await?;
            }
            (Pending::Bound(_), Conn::Any(_)) => {
                unreachable!("upserts are bound only on a native Postgres connection")
            }
        }
        Ok(())
    }
}

/// Runs a statement of bound arrays.
async fn execute_bound(
    conn: &mut PgConnection,
    (sql, columns): (String, Vec<Column>),
) -> Result<(), StoreError> {
    let mut q = sqlx::query::<sqlx::Postgres>(&sql);
    for c in columns {
        q = match c {
            Column::Text(v) => q.bind(v),
            Column::Int(v) => q.bind(v),
            Column::Bytes(v) => q.bind(v),
        };
    }
    q.execute(conn).await?;
    Ok(())
}

/// The statement and its arrays for [`Pending::Bound`] upserts; with `announce`, it also sends
/// the notices and moves the model's epoch on (the whole statement committing on its own, it is
/// the batch's last).
fn bound_upserts(tables: Vec<TableRows>, announce: Option<Announce>) -> (String, Vec<Column>) {
    let mut sql = String::from("WITH ");
    let mut columns = Vec::new();
    let mut clauses = 0;
    let mut clause = |sql: &mut String, text: &str| {
        if clauses > 0 {
            sql.push_str(", ");
        }
        clauses += 1;
        sql.push_str(text);
    };
    for (k, t) in tables.into_iter().enumerate() {
        // One array per column, of the type its first value has; the rows' values are moved
        // into them, not copied.
        let first = columns.len();
        let mut arrays = Vec::with_capacity(t.cols.len());
        for (i, value) in t.rows[0].iter().enumerate() {
            let n = first + i + 1;
            let column = match value {
                Arg::Int(_) => Column::Int(Vec::with_capacity(t.rows.len())),
                Arg::Text(_) => Column::Text(Vec::with_capacity(t.rows.len())),
                Arg::Bytes(_) => Column::Bytes(Vec::with_capacity(t.rows.len())),
            };
            arrays.push(format!("${n}::{}[]", column.type_name()));
            columns.push(column);
        }
        for row in t.rows {
            for (column, value) in columns[first..].iter_mut().zip(row) {
                match (column, value) {
                    (Column::Int(v), Arg::Int(x)) => v.push(x),
                    (Column::Text(v), Arg::Text(x)) => v.push(x),
                    (Column::Bytes(v), Arg::Bytes(x)) => v.push(x),
                    (column, value) => unreachable!(
                        "a column holds one type: {} then {value:?}",
                        column.type_name()
                    ),
                }
            }
        }
        let text = format!(
            "w{k} AS (INSERT INTO {} ({}) SELECT * FROM unnest({}) {})",
            t.table,
            t.cols.join(", "),
            arrays.join(", "),
            conflict_clause(t.table, t.cols, t.key, t.on_conflict)
        );
        clause(&mut sql, &text);
    }
    let mut last = "SELECT 1";
    if let Some(announce) = announce {
        if announce.next_epoch {
            clause(&mut sql, &format!("epoch AS ({NEXT_EPOCH})"));
        }
        if !announce.notices.is_empty() {
            // A clause that only reads runs when it is read: the last `SELECT` reads it.
            let n = columns.len() + 1;
            clause(
                &mut sql,
                &format!("notices AS (SELECT pg_notify('{GRAPH_CHANNEL}', p) FROM unnest(${n}::text[]) AS u(p))"),
            );
            columns.push(Column::Text(
                announce.notices.into_iter().map(Some).collect(),
            ));
            last = "SELECT count(*) FROM notices";
        }
    }
    sql.push(' ');
    sql.push_str(last);
    (sql, columns)
}

/// The rows a batch's reads ask for: those [`Normalizer::wanted`] names and the job versions
/// its runs likely settle on.
#[derive(Clone)]
struct Asked {
    wanted: Wanted,
    job_versions: Vec<String>,
}

impl Asked {
    fn of(n: &mut Normalizer) -> Asked {
        Asked {
            wanted: n.wanted(),
            job_versions: n.likely_job_versions(),
        }
    }

    /// Those of `self` not in `read`.
    fn minus(&self, read: &Asked) -> Asked {
        fn rest(ids: &[String], read: &[String]) -> Vec<String> {
            let read: HashSet<&str> = read.iter().map(String::as_str).collect();
            ids.iter()
                .filter(|id| !read.contains(id.as_str()))
                .cloned()
                .collect()
        }
        let (w, r) = (&self.wanted, &read.wanted);
        Asked {
            wanted: Wanted {
                versions: rest(&w.versions, &r.versions),
                datasets: rest(&w.datasets, &r.datasets),
                jobs: rest(&w.jobs, &r.jobs),
                runs: rest(&w.runs, &r.runs),
            },
            job_versions: rest(&self.job_versions, &read.job_versions),
        }
    }

    /// The ids of rows found kept.
    fn found(found: &Found) -> Asked {
        fn ids<T>(rows: &[T], id: impl Fn(&T) -> &String) -> Vec<String> {
            rows.iter().map(|r| id(r).clone()).collect()
        }
        Asked {
            wanted: Wanted {
                versions: ids(&found.versions, |v| &v.id),
                datasets: ids(&found.datasets, |d| &d.id),
                jobs: ids(&found.jobs, |j| &j.id),
                runs: ids(&found.runs, |r| &r.0.uuid),
            },
            job_versions: ids(&found.job_versions, |jv| &jv.id),
        }
    }

    fn is_empty(&self) -> bool {
        let w = &self.wanted;
        w.versions.is_empty()
            && w.datasets.is_empty()
            && w.jobs.is_empty()
            && w.runs.is_empty()
            && self.job_versions.is_empty()
    }

    /// The five reads, in the order [`Rows::take`] expects.
    fn add_to(&self, reads: &mut Reads) {
        let w = &self.wanted;
        reads.add(
            &format!("SELECT {VERSION_COLS} FROM dataset_versions"),
            "id",
            &w.versions,
        );
        // With each dataset, whether its current version may be current (one primary-key probe).
        reads.add(
            &format!(
                "SELECT {DATASET_COLS}, facet_times, (SELECT v.may_be_current FROM dataset_versions v \
                 WHERE v.id = datasets.current_version_id) AS current_may_be_current FROM datasets"
            ),
            "id",
            &w.datasets,
        );
        reads.add(&format!("SELECT {JOB_COLS} FROM jobs"), "id", &w.jobs);
        reads.add(&format!("SELECT {RUN_COLS} FROM runs"), "uuid", &w.runs);
        reads.add(&jv_select(), "id", &self.job_versions);
    }
}

fn jv_select() -> String {
    format!("SELECT {JOB_VERSION_COLS} FROM job_versions")
}

/// What the five reads of [`Asked::add_to`] found.
#[derive(Default)]
struct Rows {
    stored: Stored,
    /// Each stored dataset's facets as read: a dataset whose values the batch leaves as they
    /// were has only its facets' times written.
    facets: HashMap<String, FacetState>,
    job_versions: Vec<StoredJobVersion>,
}

impl Rows {
    /// Adds the rows of the five reads, the next answers.
    fn take(&mut self, answers: &mut Answers) -> Result<(), StoreError> {
        let stored = &mut self.stored;
        for r in answers.take::<VersionRow>()? {
            stored.versions.push(VersionState {
                id: r.id,
                dataset_id: r.dataset_id,
                producer_version: r.producer_version,
                created_by_run: r.created_by_run,
                created_at: r.created_at,
                facets: FacetState::from_stored(Some(&r.facets)),
                io_facets: FacetState::from_stored(Some(&r.io_facets)),
                may_be_current: r.may_be_current != 0,
            });
        }
        for r in answers.take::<DatasetForWrite>()? {
            let current_is_candidate = r.current_may_be_current.unwrap_or(0) != 0;
            let facets =
                FacetState::from_stored(Some(&r.row.facets)).with_times(r.facet_times.as_deref());
            let r = r.row;
            self.facets.insert(r.id.clone(), facets.clone());
            stored.datasets.push(DatasetState {
                id: r.id,
                namespace: r.namespace,
                name: r.name,
                facets,
                current: r.current_version_time.zip(r.current_version_id),
                current_is_candidate,
                created_at: r.created_at,
                deleted_at: r.deleted_at,
            });
        }
        for r in answers.take::<JobRow>()? {
            stored.jobs.push(JobState {
                id: r.id,
                namespace: r.namespace,
                name: r.name,
                parent_job_id: r.parent_job_id,
                facets: FacetState::from_stored(Some(&r.facets)),
                created_at: r.created_at,
                deleted_at: r.deleted_at,
            });
        }
        for r in answers.take::<RunRow>()? {
            stored.io.extend(io_from_stored(&r.uuid, &r.io)?);
            let terminal_type = r
                .terminal_type
                .as_deref()
                .and_then(crate::model::EventType::parse);
            stored.runs.push(RunEntry {
                uuid: r.uuid,
                run_id: r.run_id,
                job_id: r.job_id,
                job_version_id: r.job_version_id,
                parent_run_uuid: r.parent_run_uuid,
                timeline: RunTimeline {
                    start_time: r.start_time,
                    running_time: r.running_time,
                    terminal: r.terminal_time.zip(terminal_type),
                    first_event: Some(r.first_event_time),
                    last_event: Some(r.last_event_time),
                },
                facets: FacetState::from_stored(Some(&r.facets)),
                job_facets: FacetState::from_stored(Some(&r.job_facets)),
                created_at: r.created_at,
            });
        }
        self.job_versions.extend(
            answers
                .take::<JobVersionRow>()?
                .into_iter()
                .map(stored_job_version),
        );
        Ok(())
    }

    /// Adds rows found kept, as if read.
    fn add(&mut self, found: Found) {
        let stored = &mut self.stored;
        stored.versions.extend(found.versions);
        for d in found.datasets {
            self.facets.insert(d.id.clone(), d.facets.clone());
            stored.datasets.push(d);
        }
        stored.jobs.extend(found.jobs);
        for (run, io) in found.runs {
            stored.runs.push(run);
            stored.io.extend(io);
        }
        self.job_versions.extend(found.job_versions);
    }

    /// Checks rows found kept against the same rows read (all of them were read too): a kept
    /// row that differs from the store's is a bug that would corrupt the model, so it stops the
    /// writer. Only in debug builds, every other batch.
    fn check(&self, found: &Found) {
        fn same<T: PartialEq + std::fmt::Debug>(kind: &str, id: &str, kept: &T, read: Option<&T>) {
            assert!(
                read == Some(kept),
                "the writer kept a {kind} ({id}) unlike the store's: kept {kept:?}, stored {read:?}"
            );
        }
        let s = &self.stored;
        for v in &found.versions {
            same(
                "version",
                &v.id,
                v,
                s.versions.iter().find(|r| r.id == v.id),
            );
        }
        for d in &found.datasets {
            same(
                "dataset",
                &d.id,
                d,
                s.datasets.iter().find(|r| r.id == d.id),
            );
            same(
                "dataset's stored facets",
                &d.id,
                &d.facets,
                self.facets.get(&d.id),
            );
        }
        for j in &found.jobs {
            same("job", &j.id, j, s.jobs.iter().find(|r| r.id == j.id));
        }
        for (run, io) in &found.runs {
            same(
                "run",
                &run.uuid,
                run,
                s.runs.iter().find(|r| r.uuid == run.uuid),
            );
            let mut kept = io.clone();
            kept.sort_by(|a, b| a.0.cmp(&b.0));
            let mut read: Vec<(IoKey, IoState)> =
                s.io.iter()
                    .filter(|(k, _)| k.0 == run.uuid)
                    .cloned()
                    .collect();
            read.sort_by(|a, b| a.0.cmp(&b.0));
            same("run's inputs and outputs", &run.uuid, &kept, Some(&read));
        }
        for jv in &found.job_versions {
            let read = self.job_versions.iter().find(|r| r.id == jv.id);
            same("job version", &jv.id, jv, read);
        }
    }
}

fn stored_job_version(r: JobVersionRow) -> StoredJobVersion {
    StoredJobVersion {
        id: r.id,
        valid_from: r.valid_from,
        defined_by_event: r.defined_by_event != 0,
        created_at: r.created_at,
    }
}

/// A batch's model work, begun before its transaction: the batch normalized as if none of its
/// names were stored yet (the usual case: a name resolves to itself), so that the reads of the
/// stored rows it touches go in the transaction's first round trip, with the `BEGIN`, the
/// writer's lock and the raw log's insert (or, when the upserts are bound, the read of which
/// events it holds). [`Plan::apply`] checks that guess against the names
/// the store holds and reads what it missed.
pub(super) struct Plan {
    backend: Backend,
    now: Micros,
    normalizer: Normalizer,
    /// The name keys to read: those the batch mentions, less those kept.
    names: Vec<String>,
    /// Every row the batch wants.
    asked: Asked,
    /// Those to read: less those kept.
    reading: Asked,
    /// The rows found kept, and the model's epoch they are current at.
    found: Found,
    epoch: Option<i64>,
    /// Read every row even if kept, and check the kept ones against them.
    check: bool,
    /// How many events were planned.
    planned: usize,
    /// How many statements each read of [`Plan::reads`] took.
    counts: Vec<usize>,
}

/// What applying a batch did: from when on the graph's histories changed, what the commit does
/// to the graph, and the writes, still to be sent (with the `COMMIT`).
pub(super) struct Applied {
    pub cuts: Cuts,
    pub delta: GraphDelta,
    pub writes: Writes,
    /// The rows as the commit leaves them, to keep.
    pub kept: Kept,
}

/// A batch's writes not sent yet: its upserts, then statements that must follow them.
pub(super) struct Writes {
    upserts: Pending,
    after: Script,
}

impl Writes {
    /// Nothing to write, in the form `tx` sends writes.
    fn none(tx: &Conn<'_>, backend: Backend) -> Writes {
        Writes {
            upserts: Pending::new(tx, backend),
            after: Script::new(backend),
        }
    }

    /// Adds the raw log's rows of the events applied (keyed by hash and event time; any already
    /// there are left), to go with bound upserts.
    pub fn log(&mut self, cols: &'static [&'static str], rows: Vec<Vec<Arg>>) {
        let Pending::Bound(tables) = &mut self.upserts else {
            unreachable!("the raw log goes with the upserts only when they are bound")
        };
        tables.push(TableRows {
            table: "lineage_events",
            cols,
            key: &["hash", "event_time"],
            on_conflict: OnConflict::Nothing,
            rows,
        });
    }

    /// Sends them, then `then` (the notices and the `COMMIT`): on the `Any` driver all in one
    /// round trip; bound upserts take one of their own.
    pub async fn send(self, tx: &mut Conn<'_>, then: Script) -> Result<(), StoreError> {
        let mut after = self.after;
        after.append(then);
        self.upserts.send(tx, after).await
    }

    /// Sends them with what the commit announces as one statement that commits on its own (on
    /// a native connection outside any transaction, its writes held together by nothing else).
    /// Nothing is sent when there is nothing to write or announce.
    pub async fn send_alone(
        self,
        conn: &mut PgConnection,
        announce: Announce,
    ) -> Result<(), StoreError> {
        let Pending::Bound(tables) = self.upserts else {
            unreachable!("a statement committing on its own has its upserts bound")
        };
        assert!(
            self.after.statements() == 0,
            "writes that must follow others are sent in a transaction"
        );
        if tables.is_empty() && announce.notices.is_empty() && !announce.next_epoch {
            return Ok(());
        }
        execute_bound(conn, bound_upserts(tables, Some(announce))).await
    }
}

impl Plan {
    /// Plans a batch: every row it touches to be read.
    pub fn new(backend: Backend, events: &[&PreparedEvent]) -> Plan {
        let now = time::now_micros();
        let events: Vec<&LineageEvent> = events.iter().map(|p| &p.event).collect();
        let mut normalizer = Normalizer::new(now, [], &events);
        let asked = Asked::of(&mut normalizer);
        Plan {
            backend,
            now,
            normalizer,
            names: normalize::name_keys(&events),
            reading: asked.clone(),
            asked,
            found: Found::default(),
            epoch: None,
            check: false,
            planned: events.len(),
            counts: Vec::new(),
        }
    }

    /// Takes what `hot` keeps of the batch's rows instead of reading them (with `check`, they
    /// are read anyway and checked against what is kept).
    pub fn use_kept(&mut self, hot: &HotRows, check: bool) {
        let found = hot.find(&self.asked.wanted, &self.asked.job_versions, &self.names);
        if !check && !found.is_empty() {
            let kept: HashSet<String> = found
                .names
                .iter()
                .map(|(ns, n, _)| ids::dataset_id(ns, n).to_string())
                .collect();
            self.names.retain(|k| !kept.contains(k));
            self.reading = self.asked.minus(&Asked::found(&found));
        }
        self.found = found;
        self.epoch = hot.epoch();
        self.check = check;
    }

    /// Whether the plan takes rows it found kept at the model's epoch `epoch` (when the store
    /// is at another, they may be stale: the batch must be planned again without them).
    pub fn leans_on(&self, epoch: i64) -> bool {
        !self.found.is_empty() && self.epoch != Some(epoch)
    }

    /// The reads to send inside the transaction (after the writer's lock): what the batch's
    /// names mean, then the stored rows the batch touches. They take no row locks: whatever
    /// else changes these rows (soft deletes, retention, `rebuild`'s clearing) holds the
    /// writer's lock too, so nothing can change them before the commit.
    pub fn reads(&mut self) -> Script {
        let mut reads = Reads::new(self.backend);
        let sql = "SELECT namespace, name, dataset_id FROM dataset_names";
        reads.add(sql, "name_key", &self.names);
        self.reading.add_to(&mut reads);
        self.counts = reads.counts;
        reads.script
    }

    /// Applies the `fresh` events of the batch planned (those the raw log did not hold) to the model,
    /// given the answers of [`Plan::reads`]; the writes are left to send.
    pub async fn apply(
        self,
        tx: &mut Conn<'_>,
        answers: Vec<Vec<AnyRow>>,
        fresh: &[&PreparedEvent],
    ) -> Result<Applied, StoreError> {
        let backend = self.backend;
        let mut answers = Answers {
            groups: answers.into_iter(),
            counts: self.counts.into_iter(),
        };
        if fresh.is_empty() {
            return Ok(Applied {
                cuts: Cuts::default(),
                delta: GraphDelta::default(),
                writes: Writes::none(tx, backend),
                kept: Kept::default(),
            });
        }
        let mut names: Vec<Name> = answers
            .take::<NameRow>()?
            .into_iter()
            .map(|r| (r.namespace, r.name, r.dataset_id))
            .collect();
        let mut rows = Rows::default();
        rows.take(&mut answers)?;
        if self.check {
            for name in &self.found.names {
                assert!(
                    names.contains(name),
                    "the writer kept a name unlike the store's: {name:?}"
                );
            }
            rows.check(&self.found);
        } else {
            let mut found = self.found;
            names.append(&mut found.names);
            rows.add(found);
        }

        // The guess holds when the batch is the one planned and its names mean what the plan
        // made them mean; otherwise it is normalized again with the names known, and what that
        // touches beyond the rows read is read now.
        let mut n = self.normalizer;
        let mut read = self.asked;
        if fresh.len() != self.planned || !n.adopt_names(&names) {
            let events: Vec<&LineageEvent> = fresh.iter().map(|p| &p.event).collect();
            n = Normalizer::new(self.now, names.clone(), &events);
            let asked = Asked::of(&mut n);
            let missing = asked.minus(&read);
            if !missing.is_empty() {
                let mut reads = Reads::new(backend);
                missing.add_to(&mut reads);
                rows.take(&mut reads.run(tx).await?)?;
            }
            read.job_versions.extend(missing.job_versions);
        }
        let Rows {
            stored,
            facets: stored_facets,
            job_versions: mut stored_jvs,
        } = rows;
        n.merge_stored(stored);

        // Datasets whose current version a late event moved back in time (rare): the best of
        // their other versions, one index probe each, in one statement.
        let moved = n.moved_back();
        if !moved.is_empty() {
            n.merge_untouched(best_untouched(tx, backend, &moved).await?);
        }

        // The job versions the runs settle on, as far as they are stored: those not read with
        // the rest (a stored run whose inputs, outputs or job facets the batch changed).
        let read: HashSet<String> = read.job_versions.into_iter().collect();
        let rest: Vec<String> = n
            .settle_job_versions()
            .into_iter()
            .filter(|id| !read.contains(id))
            .collect();
        if !rest.is_empty() {
            let read = load::<JobVersionRow>(tx, backend, &jv_select(), "id", &rest).await?;
            stored_jvs.extend(read.into_iter().map(stored_job_version));
        }
        let mut set = n.finish(stored_jvs);

        let writes = write(tx, backend, &mut set, &stored_facets).await?;
        let delta = set.graph_delta();
        let cuts = std::mem::take(&mut set.cuts);
        Ok(Applied {
            cuts,
            delta,
            writes,
            kept: Kept::of(set, names),
        })
    }
}

/// Per dataset, the best stored version (may be current, then created_at, then id) other than
/// the given ones: one statement each, in one round trip.
async fn best_untouched(
    tx: &mut Conn<'_>,
    backend: Backend,
    datasets: &[(String, Vec<String>)],
) -> Result<Vec<(String, (bool, Micros, String))>, StoreError> {
    let mut script = Script::new(backend);
    for (dataset, touched) in datasets {
        let best = |script: &mut Script, col: &str| {
            script
                .sql("(SELECT v.")
                .sql(col)
                .sql(" FROM dataset_versions v WHERE v.dataset_id = ")
                .text(dataset);
            if !touched.is_empty() {
                script.sql(" AND v.id NOT IN (");
                for (i, id) in touched.iter().enumerate() {
                    if i > 0 {
                        script.sql(", ");
                    }
                    script.text(id);
                }
                script.sql(")");
            }
            script.sql(" ORDER BY v.may_be_current DESC, v.created_at DESC, v.id DESC LIMIT 1)");
        };
        script.sql("SELECT ");
        best(&mut script, "may_be_current");
        script.sql(", ");
        best(&mut script, "created_at");
        script.sql(", ");
        best(&mut script, "id");
        script.end();
    }
    let mut out = Vec::new();
    for ((dataset, _), rows) in datasets.iter().zip(tx.run(script).await?) {
        for row in rows {
            let may: Option<i64> = row.try_get(0)?;
            let at: Option<i64> = row.try_get(1)?;
            let id: Option<String> = row.try_get(2)?;
            if let (Some(may), Some(at), Some(id)) = (may, at, id) {
                out.push((dataset.clone(), (may != 0, at, id)));
            }
        }
    }
    Ok(out)
}

/// Writes a change set: answers its upserts still to send (with the `COMMIT`), unless a job
/// version was replaced. Then they are sent now, and the replaced version goes if no longer
/// referred to, its span with it (the set's cuts say so); what must follow is sent with the
/// `COMMIT`.
async fn write(
    tx: &mut Conn<'_>,
    backend: Backend,
    b: &mut ChangeSet,
    stored_facets: &HashMap<String, FacetState>,
) -> Result<Writes, StoreError> {
    let now = b.now;
    let mut upserts = Pending::new(tx, backend);
    upserts.add(
        "namespaces",
        &["name", "created_at", "updated_at", "deleted_at"],
        &["name"],
        OnConflict::Update,
        b.namespaces
            .iter()
            .map(|n| vec![n.as_str().into(), now.into(), now.into(), Arg::Int(None)])
            .collect(),
    );
    upserts.add(
        "sources",
        &["name", "type", "connection_url", "created_at", "updated_at"],
        &["name"],
        OnConflict::Nothing,
        b.sources
            .iter()
            .map(|(name, uri)| {
                let kind = uri
                    .as_deref()
                    .and_then(|u| u.split_once("://"))
                    .map(|(s, _)| s.to_uppercase());
                vec![
                    name.as_str().into(),
                    kind.into(),
                    uri.clone().into(),
                    now.into(),
                    now.into(),
                ]
            })
            .collect(),
    );
    upserts.add(
        "dataset_names",
        &[
            "name_key",
            "namespace",
            "name",
            "dataset_id",
            "symlink_type",
        ],
        &["name_key"],
        OnConflict::Nothing,
        b.new_names
            .iter()
            .map(|(ns, n, id, ty)| {
                vec![
                    ids::dataset_id(ns, n).to_string().into(),
                    ns.as_str().into(),
                    n.as_str().into(),
                    id.as_str().into(),
                    ty.clone().into(),
                ]
            })
            .collect(),
    );
    upserts.add(
        "datasets",
        &[
            "id",
            "namespace",
            "name",
            "source_name",
            "dataset_type",
            "facets",
            "facet_times",
            "current_version_id",
            "current_version_time",
            "created_at",
            "updated_at",
            "deleted_at",
        ],
        &["id"],
        OnConflict::UpdateKeepingEmpty("facets"),
        b.datasets
            .values()
            .map(|d| {
                let source = d.facets.string("dataSource", "name");
                let ty = d.facets.string("datasetType", "datasetType");
                // Values as stored: the stored text stays, and only the times are written.
                let (facets, times) = match stored_facets.get(&d.id) {
                    Some(stored) if stored.same_values(&d.facets) => {
                        (String::new(), Some(d.facets.times_to_stored()))
                    }
                    _ => (d.facets.to_stored(), None),
                };
                vec![
                    d.id.as_str().into(),
                    d.namespace.as_str().into(),
                    d.name.as_str().into(),
                    source.or_else(|| Some(d.namespace.clone())).into(),
                    ty.into(),
                    facets.into(),
                    times.into(),
                    d.current.as_ref().map(|c| c.1.clone()).into(),
                    d.current.as_ref().map(|c| c.0).into(),
                    d.created_at.into(),
                    now.into(),
                    d.deleted_at.into(),
                ]
            })
            .collect(),
    );

    let mut version_rows = Vec::new();
    for v in b.versions.values() {
        let checksum = v.checksum();
        version_rows.push(vec![
            v.id.as_str().into(),
            v.dataset_id.as_str().into(),
            v.producer_version.clone().into(),
            v.created_by_run.clone().into(),
            v.created_at.into(),
            now.into(),
            v.facets.to_stored().into(),
            v.io_facets.to_stored().into(),
            checksum.into(),
            i64::from(v.may_be_current).into(),
        ]);
    }
    upserts.add(
        "dataset_versions",
        &[
            "id",
            "dataset_id",
            "producer_version",
            "created_by_run",
            "created_at",
            "updated_at",
            "facets",
            "io_facets",
            "checksum",
            "may_be_current",
        ],
        &["id"],
        OnConflict::Update,
        version_rows,
    );
    upserts.add(
        "jobs",
        &[
            "id",
            "namespace",
            "name",
            "parent_job_id",
            "job_type",
            "facets",
            "created_at",
            "updated_at",
            "deleted_at",
        ],
        &["id"],
        OnConflict::Update,
        b.jobs
            .values()
            .map(|j| {
                let ty = j.facets.string("jobType", "jobType");
                vec![
                    j.id.as_str().into(),
                    j.namespace.as_str().into(),
                    j.name.as_str().into(),
                    j.parent_job_id.clone().into(),
                    ty.into(),
                    j.facets.to_stored().into(),
                    j.created_at.into(),
                    now.into(),
                    j.deleted_at.into(),
                ]
            })
            .collect(),
    );

    let jv_rows = b
        .job_versions
        .values()
        .map(|jv| {
            vec![
                jv.id.as_str().into(),
                jv.job_id.as_str().into(),
                serde_json::to_string(&jv.inputs).expect("ids").into(),
                serde_json::to_string(&jv.outputs).expect("ids").into(),
                jv.location.as_ref().map(|l| l.to_string()).into(),
                jv.sql.clone().into(),
                jv.valid_from.into(),
                i64::from(jv.defined_by_event).into(),
                jv.created_at.into(),
            ]
        })
        .collect();
    upserts.add(
        "job_versions",
        &[
            "id",
            "job_id",
            "inputs",
            "outputs",
            "location",
            "sql",
            "valid_from",
            "defined_by_event",
            "created_at",
        ],
        &["id"],
        OnConflict::Update,
        jv_rows,
    );

    // Each run's inputs and outputs, read or new, are stored with it.
    let mut io: HashMap<&str, Vec<(&IoKey, &IoState)>> = HashMap::new();
    for entry in &b.io {
        io.entry(entry.0 .0.as_str()).or_default().push(entry);
    }
    let run_rows = b
        .runs
        .values()
        .map(|r| {
            let nominal_time = |k: &str| {
                r.facets
                    .string("nominalTime", k)
                    .and_then(|t| time::parse_event_time(&t))
                    .map(time::to_micros)
            };
            vec![
                r.uuid.as_str().into(),
                r.run_id.as_str().into(),
                r.job_id.as_str().into(),
                r.job_version_id.clone().into(),
                r.parent_run_uuid.clone().into(),
                r.timeline.state().as_str().into(),
                r.timeline.start_time.into(),
                r.timeline.running_time.into(),
                r.timeline.terminal.map(|t| t.0).into(),
                r.timeline.terminal.map(|t| t.1.as_str().to_string()).into(),
                r.timeline.first_event.unwrap_or(now).into(),
                r.timeline.last_event.unwrap_or(now).into(),
                nominal_time("nominalStartTime").into(),
                nominal_time("nominalEndTime").into(),
                r.facets.to_stored().into(),
                r.job_facets.to_stored().into(),
                r.created_at.into(),
                now.into(),
                io_to_stored(io.remove(r.uuid.as_str()).unwrap_or_default()).into(),
            ]
        })
        .collect();
    upserts.add(
        "runs",
        &[
            "uuid",
            "run_id",
            "job_id",
            "job_version_id",
            "parent_run_uuid",
            "state",
            "start_time",
            "running_time",
            "terminal_time",
            "terminal_type",
            "first_event_time",
            "last_event_time",
            "nominal_start",
            "nominal_end",
            "facets",
            "job_facets",
            "created_at",
            "updated_at",
            "io",
        ],
        &["uuid"],
        OnConflict::Update,
        run_rows,
    );
    if b.replaced_job_versions.is_empty() {
        return Ok(Writes {
            upserts,
            after: Script::new(backend),
        });
    }
    // The runs must point at their new versions before the old ones can go; what follows
    // commits with them.
    tx.hold().await?;
    upserts.send(tx, Script::new(backend)).await?;
    let mut removals = Script::new(backend);
    for old in &b.replaced_job_versions {
        removals
            .sql("DELETE FROM job_versions WHERE id = ")
            .text(old)
            .sql(" AND defined_by_event = 0 AND NOT EXISTS (SELECT 1 FROM runs WHERE job_version_id = ")
            .text(old)
            .sql(") RETURNING job_id, valid_from");
        removals.end();
    }
    let removed = tx.run(removals).await?;
    // Sent with the `COMMIT`: nothing of theirs is needed before it.
    let mut after = Script::new(backend);
    for (old, rows) in b.replaced_job_versions.iter().zip(removed) {
        match rows.first() {
            Some(row) => {
                // Its span goes from the graph too.
                let job_id: String = row.try_get(0)?;
                let valid_from: i64 = row.try_get(1)?;
                let key = b
                    .jobs
                    .get(&job_id)
                    .map(|j| (j.namespace.clone(), j.name.clone()));
                if let Some(cut) = key.and_then(|k| b.cuts.jobs.get_mut(&k)) {
                    *cut = (*cut).min(valid_from);
                }
            }
            None => {
                // Other runs still have it: it holds from the first of theirs, no longer from
                // this run's partial view. (The graph already reads this job from no later than
                // this run's first event, which is where the span began if this run began it.)
                after
                    .sql("UPDATE job_versions SET valid_from = (SELECT MIN(first_event_time) FROM runs WHERE job_version_id = ")
                    .text(old)
                    .sql(") WHERE id = ")
                    .text(old)
                    .sql(" AND defined_by_event = 0 AND EXISTS (SELECT 1 FROM runs WHERE job_version_id = ")
                    .text(old)
                    .sql(")");
                after.end();
            }
        }
    }
    Ok(Writes {
        upserts: Pending::new(tx, backend),
        after,
    })
}
