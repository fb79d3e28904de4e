//! Storage: the `Store` trait, its errors, and the one SQL implementation that serves both
//! Postgres and SQLite. Only this module talks SQL.

mod access;
mod apply;
mod catalog;
mod dialect;
mod hot;
mod keep;
mod reads;
mod rows;
mod snapshot;
mod sql;
mod tx;

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

pub use catalog::{
    ColumnHistory, DatasetTags, JobSummary, Namespace, SearchHit, SearchQuery, Source, StatsKind,
    Tag, TagTarget,
};
pub use dialect::Backend;
pub use keep::{Mismatch, RetentionReport, VerifyReport, VersionTag};
pub use reads::{Dataset, DatasetVersion, Job, JobVersion, Run, RunIo};
pub use rows::io_to_stored;
pub use sql::SqlStore;

use crate::error::Cause;
use crate::model::access::{AuditEntry, KeyRecord};
pub use crate::model::graph::GraphDataset;
use crate::model::graph::{GraphChange, GraphDelta, GraphJob, GraphSink, HistoryFrom};
use crate::model::prepared::PreparedEvent;
use crate::model::time::Micros;

/// What went wrong in the store. Each failure keeps the error it came from (`Cause`), so the
/// log can carry its whole chain; clients are only ever told the kind.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the work.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// The connection was cut while in use (a database restart, a terminated backend); a
    /// fresh connection may work at once.
    #[error("database connection lost: {0}")]
    Disconnected(#[source] Cause),
    /// A query failed for another reason.
    #[error("database error: {0}")]
    Database(#[source] Cause),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[source] Cause),
    /// The database URL names no backend we support.
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// Stored data could not be read back (a corrupt body, a checksum mismatch).
    #[error("corrupt stored data: {0}")]
    Corrupt(#[source] Cause),
}

impl StoreError {
    /// Whether retrying later may work: the database was away, out of room, or cut the
    /// connection.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Disconnected(_)
        )
    }

    /// Whether no connection could be had within the pool's acquire timeout.
    pub fn is_pool_timeout(&self) -> bool {
        matches!(self, StoreError::Unavailable(cause)
            if matches!(cause.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::PoolTimedOut)))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_disconnection(&e) {
            StoreError::Disconnected(Cause::new(e))
        } else if database_is_away(&e) {
            StoreError::Unavailable(Cause::new(e))
        } else {
            StoreError::Database(Cause::new(e))
        }
    }
}

/// Whether an error says the connection in use was cut: it broke, or the server ended it
/// (SQLSTATE 57P01-57P03, class 08 connection exceptions).
fn is_disconnection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            code.starts_with("57P0") || code.starts_with("08")
        }
        other => {
            let text = other.to_string();
            text.contains("terminating connection") || text.contains("connection closed")
        }
    }
}

/// Whether an error says the database is away or out of room for now (a lost or refused
/// connection, a full disk, an I/O error, a lock or statement timeout): the same request may
/// work later. Anything else is a bug or a broken database.
fn database_is_away(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<i32>() {
                // SQLite result codes (extended codes keep the primary one in the low byte):
                // BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL.
                Ok(n) => matches!(n & 0xff, 5 | 6 | 7 | 10 | 13 | 14 | 15),
                // Postgres SQLSTATEs: insufficient resources, operator intervention (shutdown,
                // cancelled by a statement timeout), serialization failures.
                Err(_) => {
                    code.starts_with("53")
                        || code.starts_with("57")
                        || code == "40001"
                        || code == "40P01"
                }
            }
        }
        _ => false,
    }
}

/// A committed batch: what became of each event, and what changed in the lineage graph.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub results: Vec<Ingested>,
    /// What the commit touched (what the other servers hear, and what a graph that cannot take
    /// `delta` reads back).
    pub change: GraphChange,
    /// The same, said without reading the store back, where the store knows it.
    pub delta: Option<GraphDelta>,
}

/// What a replica hears about graph changes made by any server sharing its database.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphNotice {
    /// These jobs and datasets changed.
    Changed(Box<GraphChange>),
    /// Something may have been missed (a reconnect, a change too large to describe): reload all.
    Resync,
}

/// What the store did with one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Newly stored and applied to the model.
    Stored,
    /// Already in the log (same content hash): nothing changed.
    Duplicate,
}

/// Sort order for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Asc,
    Desc,
}

/// A page request over the raw event log (Marquez's `/events/lineage` parameters).
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub before: Micros,
    pub after: Micros,
    pub direction: SortDirection,
    pub limit: i64,
    pub offset: i64,
}

/// A page of raw events, verbatim, and how many match in all.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<Value>,
    pub total_count: i64,
}

/// The storage operations the rest of the service needs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Stores a batch of events and applies them to the model in one transaction. The answer
    /// has one entry per event, in order, and what the commit changed in the lineage graph.
    async fn ingest(&self, batch: &[PreparedEvent]) -> Result<Committed, StoreError>;
    /// Applies events that are already in the log to the model again (for `rebuild`).
    async fn replay(&self, batch: &[PreparedEvent]) -> Result<(), StoreError>;
    /// Reads the raw event log.
    async fn list_events(&self, query: &EventQuery) -> Result<EventPage, StoreError>;
    /// Every stored event body (decompressed), in arrival order, `limit` at a time after `seq`.
    async fn event_bodies(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;
    /// Empties the model tables (not the event log), so they can be rebuilt from the log.
    async fn clear_model(&self) -> Result<(), StoreError>;
    /// A dataset by name (an alias from a `symlinks` facet resolves to its dataset).
    async fn dataset(&self, namespace: &str, name: &str) -> Result<Option<Dataset>, StoreError>;
    /// A dataset's versions, newest first.
    async fn dataset_versions(&self, dataset_id: &str) -> Result<Vec<DatasetVersion>, StoreError>;
    /// A job by name.
    async fn job(&self, namespace: &str, name: &str) -> Result<Option<Job>, StoreError>;
    /// A job's versions, oldest first, with their validity intervals.
    async fn job_versions(&self, job_id: &str) -> Result<Vec<JobVersion>, StoreError>;
    /// A run by its UUID, with inputs and outputs bound to dataset versions.
    async fn run(&self, run: Uuid) -> Result<Option<Run>, StoreError>;
    /// How many events the log holds.
    async fn event_count(&self) -> Result<i64, StoreError>;

    /// Namespaces (not soft-deleted), by name, and how many there are.
    async fn namespaces(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Namespace>, i64), StoreError>;
    /// A namespace, soft-deleted or not.
    async fn namespace(&self, name: &str) -> Result<Option<Namespace>, StoreError>;
    /// Creates a namespace or sets its owner and description.
    async fn put_namespace(
        &self,
        name: &str,
        owner: Option<&str>,
        description: Option<&str>,
    ) -> Result<Namespace, StoreError>;
    /// Soft-deletes a namespace; false when there was none to delete.
    async fn delete_namespace(&self, name: &str) -> Result<bool, StoreError>;
    /// Sources, by name.
    async fn sources(&self, limit: i64, offset: i64) -> Result<(Vec<Source>, i64), StoreError>;
    /// A source.
    async fn source(&self, name: &str) -> Result<Option<Source>, StoreError>;
    /// A namespace's datasets (not soft-deleted), by name.
    async fn datasets(
        &self,
        namespace: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Dataset>, i64), StoreError>;
    /// Soft-deletes a dataset: it leaves listings until an event names it again.
    async fn delete_dataset(&self, dataset_id: &str) -> Result<bool, StoreError>;
    /// Tags of datasets and of their fields.
    async fn dataset_tags(
        &self,
        dataset_ids: &[String],
    ) -> Result<HashMap<String, DatasetTags>, StoreError>;
    /// Jobs of a namespace, or of all, optionally only those whose latest run is in `states`.
    async fn jobs(
        &self,
        namespace: Option<&str>,
        states: &[String],
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobSummary>, i64), StoreError>;
    /// A job with its current inputs and outputs, latest run and tags.
    async fn job_summary(&self, job: Job) -> Result<JobSummary, StoreError>;
    /// Soft-deletes a job.
    async fn delete_job(&self, job_id: &str) -> Result<bool, StoreError>;
    /// A job's runs, newest first.
    async fn job_runs(
        &self,
        job_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Run>, i64), StoreError>;
    /// Every tag.
    async fn tags(&self) -> Result<Vec<Tag>, StoreError>;
    /// Creates a tag or sets its description.
    async fn put_tag(&self, name: &str, description: Option<&str>) -> Result<Tag, StoreError>;
    /// Puts a tag on (or takes it off) a dataset, a field or a job.
    async fn set_tag(&self, target: TagTarget<'_>, tag: &str, on: bool) -> Result<(), StoreError>;
    /// Namespace and name of datasets, by id.
    async fn dataset_names(
        &self,
        dataset_ids: &[String],
    ) -> Result<HashMap<String, (String, String)>, StoreError>;
    /// Graph changes committed by any server on this database, as they happen; `None` where the
    /// backend cannot tell (SQLite has one writer process by design).
    async fn graph_notices(&self) -> Option<tokio::sync::mpsc::Receiver<GraphNotice>> {
        None
    }
    /// Counts per time bucket for `/stats` (see `StatsKind`): `(bucket, key, count)`.
    async fn stats(
        &self,
        kind: StatsKind,
        start: Micros,
        width: Micros,
        buckets: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError>;
    /// The named jobs with the spans, inputs and outputs of their versions valid from each
    /// one's `since` on (up to the first version after its `end`, where that is not
    /// `Micros::MAX`).
    async fn graph_jobs(&self, keys: &[HistoryFrom]) -> Result<Vec<GraphJob>, StoreError>;
    /// Hands the whole lineage graph to `sink`, as the index is loaded at startup.
    async fn load_graph(&self, sink: &mut dyn GraphSink) -> Result<(), StoreError>;
    /// Datasets as graph nodes (only the named ones when given).
    async fn graph_datasets(
        &self,
        keys: Option<&[(String, String)]>,
    ) -> Result<Vec<GraphDataset>, StoreError>;
    /// Datasets' `columnLineage` facets over time: all of every dataset's, or the named ones'
    /// from each one's `since` on — up to the first entry after its `end` where that is before
    /// the current version (the history answers how far it was read).
    async fn graph_columns(
        &self,
        keys: Option<&[HistoryFrom]>,
    ) -> Result<Vec<ColumnHistory>, StoreError>;
    /// Datasets and job summaries by `(namespace, name)`, for the nodes of a lineage answer;
    /// names not found are left out.
    async fn node_details(
        &self,
        datasets: &[(String, String)],
        jobs: &[(String, String)],
    ) -> Result<(Vec<Dataset>, Vec<JobSummary>), StoreError>;
    /// The state of each job's latest run by `(namespace, name)`; jobs without runs are left out.
    async fn latest_run_states(
        &self,
        jobs: &[(String, String)],
    ) -> Result<HashMap<(String, String), String>, StoreError>;
    /// Tags on a dataset's versions: the live ones, or every tag ever set (oldest first).
    async fn version_tags(
        &self,
        dataset_id: &str,
        history: bool,
    ) -> Result<Vec<VersionTag>, StoreError>;
    /// Every live version tag of live datasets: `(namespace, name, version id, tag)`.
    async fn tagged_versions(&self) -> Result<Vec<(String, String, String, String)>, StoreError>;
    /// Puts a tag on a dataset version (moving it there if another version had it) or takes it
    /// off; whether anything changed.
    async fn set_version_tag(
        &self,
        dataset_id: &str,
        version_id: &str,
        tag: &str,
        on: bool,
    ) -> Result<bool, StoreError>;
    /// Recomputes stored events' content hashes and dataset versions' checksums.
    async fn verify(&self) -> Result<VerifyReport, StoreError>;
    /// Removes raw events and run details older than `cutoff` that nothing kept needs (see
    /// `store::keep`); a dry run only counts.
    async fn retention(&self, cutoff: Micros, dry_run: bool)
        -> Result<RetentionReport, StoreError>;
    /// Datasets and jobs whose name contains the query.
    async fn search(&self, query: &SearchQuery) -> Result<(Vec<SearchHit>, i64), StoreError>;
    /// The connection pools' sizes, for metrics.
    fn pools(&self) -> Vec<PoolStats>;
    /// Stores a new API key (its hash); `false` when a live key already has its name.
    async fn create_key(&self, key: &KeyRecord) -> Result<bool, StoreError>;
    /// Every API key, live ones first.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// The API key with this public id, revoked or not.
    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Revokes the live key named `name`; `false` when there is none.
    async fn revoke_key(&self, name: &str) -> Result<bool, StoreError>;
    /// Whether any live API key exists.
    async fn has_keys(&self) -> Result<bool, StoreError>;
    /// Adds an entry to the audit trail.
    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// A page of the audit trail, newest first, and its whole length.
    async fn audit(&self, limit: i64, offset: i64) -> Result<(Vec<AuditEntry>, i64), StoreError>;
}

/// A connection pool's size now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolStats {
    /// `read`, `write`, or (Postgres) `batches`: the writer's own.
    pub name: &'static str,
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Records an admin action that has already taken effect; a failure to record it is logged as
/// an error (the action is not undone).
pub async fn record_audit(store: &dyn Store, entry: &AuditEntry) {
    if let Err(e) = store.record_audit(entry).await {
        tracing::error!(error = %e, actor = %entry.actor, action = %entry.action,
            target = %entry.target,
            "an admin action took effect but could not be recorded in the audit trail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_connection_is_told_apart_from_a_database_that_is_away() {
        let cut = StoreError::from(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )));
        assert!(matches!(cut, StoreError::Disconnected(_)));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
        let timeout = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(cut.is_transient() && timeout.is_transient());
        assert!(timeout.is_pool_timeout() && !cut.is_pool_timeout());
        // The driver's error is kept under the store's, for the log.
        let source = std::error::Error::source(&timeout).unwrap();
        assert_eq!(source.to_string(), sqlx::Error::PoolTimedOut.to_string());
    }
}
