//! Row types as the database returns them. They stay in `store/`; the rest of the code sees
//! model types.

use sqlx::FromRow;

use super::StoreError;
use crate::error::Cause;

#[derive(Debug, FromRow)]
pub(super) struct DatasetRow {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub source_name: Option<String>,
    pub dataset_type: Option<String>,
    pub facets: String,
    pub current_version_id: Option<String>,
    pub current_version_time: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

/// A dataset as the write path reads it: the row, and whether its current version may be
/// current (from that version's row).
#[derive(Debug, FromRow)]
pub(super) struct DatasetForWrite {
    #[sqlx(flatten)]
    pub row: DatasetRow,
    /// Facet times newer than those in `row.facets` (see migration 0007).
    pub facet_times: Option<String>,
    pub current_may_be_current: Option<i64>,
}

#[derive(Debug, FromRow)]
pub(super) struct VersionRow {
    pub id: String,
    pub dataset_id: String,
    pub producer_version: Option<String>,
    pub created_by_run: Option<String>,
    pub created_at: i64,
    pub facets: String,
    pub io_facets: String,
    pub checksum: String,
    pub may_be_current: i64,
}

#[derive(Debug, FromRow)]
pub(super) struct JobRow {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub parent_job_id: Option<String>,
    pub job_type: Option<String>,
    pub facets: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, FromRow)]
pub(super) struct JobVersionRow {
    pub id: String,
    pub inputs: String,
    pub outputs: String,
    pub location: Option<String>,
    pub sql: Option<String>,
    pub valid_from: i64,
    pub defined_by_event: i64,
    pub created_at: i64,
}

/// A job version's inputs or outputs as stored (`job_versions.inputs`, `outputs`): a JSON array of
/// dataset ids, sorted. It is the only record of which datasets a version reads and writes.
pub(super) fn dataset_ids(stored: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(stored).map_err(|e| {
        StoreError::Corrupt(Cause::msg(format!(
            "a job version's inputs or outputs: {e}"
        )))
    })
}

#[derive(Debug, FromRow)]
pub(super) struct RunRow {
    pub uuid: String,
    pub run_id: String,
    pub job_id: String,
    pub job_version_id: Option<String>,
    pub parent_run_uuid: Option<String>,
    pub start_time: Option<i64>,
    pub running_time: Option<i64>,
    pub terminal_time: Option<i64>,
    pub terminal_type: Option<String>,
    pub first_event_time: i64,
    pub last_event_time: i64,
    pub facets: String,
    pub job_facets: String,
    pub created_at: i64,
}

#[derive(Debug, FromRow)]
pub(super) struct RunIoRow {
    pub run_uuid: String,
    pub direction: String,
    pub dataset_id: String,
    pub version_id: Option<String>,
    pub bind_time: i64,
    pub facets: String,
}

#[derive(Debug, FromRow)]
pub(super) struct NameRow {
    pub namespace: String,
    pub name: String,
    pub dataset_id: String,
}

pub(super) const DATASET_COLS: &str =
    "id, namespace, name, source_name, dataset_type, facets, current_version_id, \
     current_version_time, created_at, updated_at, deleted_at";
pub(super) const VERSION_COLS: &str =
    "id, dataset_id, producer_version, created_by_run, created_at, updated_at, facets, io_facets, checksum, \
     may_be_current";
pub(super) const JOB_COLS: &str =
    "id, namespace, name, parent_job_id, job_type, facets, created_at, updated_at, deleted_at";
pub(super) const JOB_VERSION_COLS: &str =
    "id, job_id, inputs, outputs, location, sql, valid_from, defined_by_event, created_at";
pub(super) const RUN_COLS: &str = "uuid, run_id, job_id, job_version_id, parent_run_uuid, state, start_time, \
     running_time, terminal_time, terminal_type, first_event_time, last_event_time, nominal_start, nominal_end, \
     facets, job_facets, created_at, updated_at";
pub(super) const RUN_IO_COLS: &str =
    "run_uuid, direction, dataset_id, version_id, bind_time, facets";
