//! The rows the writer last committed, kept in memory so that the next batches need not read
//! them back: a job's, a hub dataset's or a run's stored state is what the last batch that
//! touched it wrote. Kept right across servers and processes by the model's epoch, a counter in
//! the store that every transaction changing the model's rows moves on (each holds the writer's
//! lock): a writer that finds it where its own last commit left it knows nobody else wrote since.
//! Bounded: a kind of row past its bound forgets half of what it holds.

use std::collections::HashMap;

use sqlx::{AnyPool, Executor};

use super::dialect::Backend;
use super::tx::Tx;
use super::StoreError;
use crate::model::ids;
use crate::model::normalize::{
    ChangeSet, DatasetState, IoKey, IoState, JobState, RunEntry, StoredJobVersion, VersionState,
    Wanted,
};

/// Moves the model's epoch on, in every transaction that changes the model's rows (under the
/// writer's lock): a writer whose last commit left another epoch forgets what it kept.
pub(super) const NEXT_EPOCH: &str = "UPDATE model_epoch SET epoch = epoch + 1";

/// Begins a transaction that changes the model's rows outside the writer's batches (soft
/// deletes, retention, `rebuild`'s clearing): under the writer's lock, with the model's epoch
/// moved on, so that no writer trusts the rows it kept.
pub(super) async fn begin_change(
    pool: &AnyPool,
    backend: Backend,
    writer_lock: i64,
) -> Result<Tx, StoreError> {
    let mut tx = Tx::begin_write_locked(pool, backend, writer_lock).await?;
    tx.execute(NEXT_EPOCH).await?;
    Ok(tx)
}

/// The most rows of one kind kept (a realistic dataset or version holds a few KB of facets).
const MAX_ROWS: usize = 10_000;
/// Names are small and never change once stored.
const MAX_NAMES: usize = 200_000;

/// A name as stored: `(namespace, name, dataset id)`.
pub(super) type Name = (String, String, String);

/// A run with every input and output it has.
type RunRows = (RunEntry, Vec<(IoKey, IoState)>);

#[derive(Default)]
pub(super) struct HotRows {
    /// The model's epoch after this store's last commit: `None` when nothing kept is known to be
    /// current (at the start, and after any failure).
    epoch: Option<i64>,
    /// By name key.
    names: HashMap<String, Name>,
    datasets: HashMap<String, DatasetState>,
    versions: HashMap<String, VersionState>,
    jobs: HashMap<String, JobState>,
    runs: HashMap<String, RunRows>,
    job_versions: HashMap<String, StoredJobVersion>,
}

/// The stored rows a batch found kept, as the store's reads would have answered them.
#[derive(Default)]
pub(super) struct Found {
    pub names: Vec<Name>,
    pub versions: Vec<VersionState>,
    pub datasets: Vec<DatasetState>,
    pub jobs: Vec<JobState>,
    pub runs: Vec<RunRows>,
    pub job_versions: Vec<StoredJobVersion>,
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
            && self.versions.is_empty()
            && self.datasets.is_empty()
            && self.jobs.is_empty()
            && self.runs.is_empty()
            && self.job_versions.is_empty()
    }
}

/// What a committed batch leaves to keep: its rows as written (as the next batch will find them).
#[derive(Default)]
pub(super) struct Kept {
    rows: Found,
    /// Job versions the commit may have removed or moved by statements of its own.
    dropped_job_versions: Vec<String>,
}

impl Kept {
    /// The rows of a change set as the store holds them once it is written, and the names the
    /// batch knew (`known`: read or kept before).
    pub fn of(set: ChangeSet, known: Vec<Name>) -> Kept {
        let now = set.now;
        let mut names = known;
        names.extend(
            set.new_names
                .into_iter()
                .map(|(namespace, name, id, _)| (namespace, name, id)),
        );
        let mut io: HashMap<String, Vec<(IoKey, IoState)>> = HashMap::new();
        for (key, state) in set.io {
            let state = IoState {
                dirty: false,
                ..state
            };
            io.entry(key.0.clone()).or_default().push((key, state));
        }
        let runs = set
            .runs
            .into_values()
            .map(|mut r| {
                // As the row stores them.
                r.timeline.first_event = Some(r.timeline.first_event.unwrap_or(now));
                r.timeline.last_event = Some(r.timeline.last_event.unwrap_or(now));
                let rows = io.remove(&r.uuid).unwrap_or_default();
                (r, rows)
            })
            .collect();
        Kept {
            rows: Found {
                names,
                datasets: set.datasets.into_values().collect(),
                versions: set.versions.into_values().collect(),
                jobs: set.jobs.into_values().collect(),
                runs,
                job_versions: set.job_versions.values().map(Into::into).collect(),
            },
            dropped_job_versions: set.replaced_job_versions,
        }
    }
}

impl HotRows {
    /// The epoch this store's last commit left, if what is kept is known to be current then.
    pub fn epoch(&self) -> Option<i64> {
        self.epoch
    }

    /// Forgets everything (after a failure, or when another writer moved the epoch on).
    pub fn forget(&mut self) {
        *self = HotRows::default();
    }

    /// What is kept of the rows a batch wants and the names it mentions (`name_keys`).
    pub fn find(&self, wanted: &Wanted, job_versions: &[String], name_keys: &[String]) -> Found {
        if self.epoch.is_none() {
            return Found::default();
        }
        fn rows<T: Clone>(kept: &HashMap<String, T>, ids: &[String]) -> Vec<T> {
            ids.iter().filter_map(|id| kept.get(id).cloned()).collect()
        }
        Found {
            names: rows(&self.names, name_keys),
            versions: rows(&self.versions, &wanted.versions),
            datasets: rows(&self.datasets, &wanted.datasets),
            jobs: rows(&self.jobs, &wanted.jobs),
            runs: rows(&self.runs, &wanted.runs),
            job_versions: rows(&self.job_versions, job_versions),
        }
    }

    /// Keeps a committed batch's rows; `epoch` is the model's epoch its commit left, and
    /// `before` the one its transaction found (what was kept is forgotten unless it was current
    /// then).
    pub fn keep(&mut self, kept: Kept, before: i64, epoch: i64) {
        if self.epoch != Some(before) {
            self.forget();
        }
        self.epoch = Some(epoch);
        let Found {
            names,
            versions,
            datasets,
            jobs,
            runs,
            job_versions,
        } = kept.rows;
        for name in names {
            let key = ids::dataset_id(&name.0, &name.1).to_string();
            self.names.insert(key, name);
        }
        // A version the batch wrote may be the current one of a dataset it did not touch.
        for v in &versions {
            if let Some(d) = self.datasets.get_mut(&v.dataset_id) {
                if d.current.as_ref().is_some_and(|(_, id)| *id == v.id) {
                    d.current_is_candidate = v.may_be_current;
                }
            }
        }
        put(&mut self.datasets, datasets, |d| d.id.clone());
        put(&mut self.versions, versions, |v| v.id.clone());
        put(&mut self.jobs, jobs, |j| j.id.clone());
        put(&mut self.runs, runs, |r| r.0.uuid.clone());
        put(&mut self.job_versions, job_versions, |jv| jv.id.clone());
        // Removed, or moved by statements of the commit's own: read again when next wanted.
        for id in &kept.dropped_job_versions {
            self.job_versions.remove(id);
        }
        bound(&mut self.names, MAX_NAMES);
        bound(&mut self.datasets, MAX_ROWS);
        bound(&mut self.versions, MAX_ROWS);
        bound(&mut self.jobs, MAX_ROWS);
        bound(&mut self.runs, MAX_ROWS);
        bound(&mut self.job_versions, MAX_ROWS);
    }
}

fn put<T>(kept: &mut HashMap<String, T>, rows: Vec<T>, key: impl Fn(&T) -> String) {
    for row in rows {
        kept.insert(key(&row), row);
    }
}

/// Past `max`, forgets every other row (whichever the map's order gives).
fn bound<T>(kept: &mut HashMap<String, T>, max: usize) {
    if kept.len() > max {
        let mut k = 0usize;
        kept.retain(|_, _| {
            k += 1;
            k % 2 == 0
        });
    }
}
