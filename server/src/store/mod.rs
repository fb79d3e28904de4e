//! Storage: the `Store` trait, its errors, and the one SQL implementation that serves both
//! Postgres and SQLite. Only this module talks SQL.

mod apply;
mod dialect;
mod reads;
mod rows;
mod sql;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

pub use dialect::Backend;
pub use reads::{Dataset, DatasetVersion, Job, JobVersion, Run, RunIo};
pub use sql::SqlStore;

use crate::ingest::PreparedEvent;
use crate::model::time::Micros;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed for another reason.
    #[error("database error: {0}")]
    Database(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database URL names no backend we support.
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// Stored data could not be read back (a corrupt body, a checksum mismatch).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
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
    /// has one entry per event, in order.
    async fn ingest(&self, batch: &[PreparedEvent]) -> Result<Vec<Ingested>, StoreError>;
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
}
