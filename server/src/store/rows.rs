//! Row types as the database returns them. They stay in `store/`; the rest of the code sees
//! model types.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::StoreError;
use crate::error::Cause;
use crate::model::normalize::{IoKey, IoState};
use crate::model::time::Micros;
use crate::model::FacetState;

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
    /// The run's inputs and outputs ([`io_from_stored`]).
    pub io: String,
}

/// One input or output of a run as stored in the run's row (`runs.io`, migration 0010);
/// borrowed from the writer's state to write it, owned once read.
#[derive(Serialize, Deserialize)]
struct StoredIo<'a> {
    /// `"in"` or `"out"`.
    dir: &'a str,
    dataset: Cow<'a, str>,
    /// The version the event named; else the run is bound to the one current at `bind_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<Cow<'a, str>>,
    bind_time: Micros,
    #[serde(default)]
    facets: Cow<'a, FacetState>,
}

/// A run's inputs and outputs as its row stores them: a JSON array of
/// `{"dir", "dataset", "version"?, "bind_time", "facets"}`, in the order given (the writer's is
/// by direction, then dataset). They live with the run, not as rows of their own: every event
/// rewrites its run's row anyway, and four more rows an event, each with an index entry, cost
/// more than the array.
pub fn io_to_stored<'a>(io: impl IntoIterator<Item = (&'a IoKey, &'a IoState)>) -> String {
    let entries: Vec<StoredIo> = io
        .into_iter()
        .map(|((_, dir, dataset), state)| StoredIo {
            dir,
            dataset: Cow::Borrowed(dataset),
            version: state.version_id.as_deref().map(Cow::Borrowed),
            bind_time: state.bind_time,
            facets: Cow::Borrowed(&state.facets),
        })
        .collect();
    serde_json::to_string(&entries).expect("inputs and outputs serialise")
}

/// The inputs and outputs of run `run` from its row's `io` ([`io_to_stored`]).
pub(super) fn io_from_stored(run: &str, stored: &str) -> Result<Vec<(IoKey, IoState)>, StoreError> {
    let entries: Vec<StoredIo> = serde_json::from_str(stored).map_err(|e| {
        StoreError::Corrupt(Cause::msg(format!(
            "the inputs and outputs of run {run}: {e}"
        )))
    })?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let dir: &'static str = if e.dir == "in" { "in" } else { "out" };
            (
                (run.to_string(), dir, e.dataset.into_owned()),
                IoState {
                    dirty: false,
                    version_id: e.version.map(Cow::into_owned),
                    bind_time: e.bind_time,
                    facets: e.facets.into_owned(),
                },
            )
        })
        .collect())
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
     facets, job_facets, created_at, updated_at, io";
