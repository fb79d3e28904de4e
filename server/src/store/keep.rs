//! Version tags, integrity checks and retention: what keeps old data reproducible, and what may go.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::{AnyPool, Executor, FromRow, Row};

use super::dialect::{bind_all, bind_all_as, list, Arg, Backend};
use super::reads::version_from;
use super::rows::{io_from_stored, VersionRow, VERSION_COLS};
use super::StoreError;
use crate::model::canonical;
use crate::model::time::{self, Micros};

/// A tag on a dataset version; `untagged_at` is set once it moved away or was removed.
#[derive(Debug, Clone, Serialize, FromRow, PartialEq)]
pub struct VersionTag {
    pub tag: String,
    pub version_id: String,
    pub tagged_at: Micros,
    pub untagged_at: Option<Micros>,
}

/// Tags of a dataset's versions: the live ones only, or the whole history (oldest first).
pub(super) async fn version_tags(
    pool: &AnyPool,
    dataset_id: &str,
    history: bool,
) -> Result<Vec<VersionTag>, StoreError> {
    let live = if history {
        ""
    } else {
        "AND untagged_at IS NULL"
    };
    let sql = format!(
        "SELECT tag, version_id, tagged_at, untagged_at FROM dataset_version_tags \
         WHERE dataset_id = $1 {live} ORDER BY tagged_at, tag"
    );
    Ok(sqlx::query_as::<_, VersionTag>(&sql)
        .bind(dataset_id)
        .fetch_all(pool)
        .await?)
}

/// Every live version tag of live datasets, as `(namespace, name, version id, tag)`, by dataset.
pub(super) async fn tagged_versions(
    pool: &AnyPool,
) -> Result<Vec<(String, String, String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT d.namespace, d.name, t.version_id, t.tag FROM dataset_version_tags t \
         JOIN datasets d ON d.id = t.dataset_id \
         WHERE t.untagged_at IS NULL AND d.deleted_at IS NULL \
         ORDER BY d.namespace, d.name, t.tag",
    )
    .fetch_all(pool)
    .await?)
}

/// Puts `tag` on a version (moving it from another version of the dataset) or takes it off.
/// Returns whether anything changed.
pub(super) async fn set_version_tag(
    pool: &AnyPool,
    backend: Backend,
    dataset_id: &str,
    version_id: &str,
    tag: &str,
    on: bool,
) -> Result<bool, StoreError> {
    let now = time::now_micros();
    let mut tx = super::tx::Tx::begin_write(pool, backend).await?;
    let current: Option<String> = sqlx::query_scalar(
        "SELECT version_id FROM dataset_version_tags WHERE dataset_id = $1 AND tag = $2 AND untagged_at IS NULL",
    )
    .bind(dataset_id)
    .bind(tag)
    .fetch_optional(&mut *tx)
    .await?;
    let changed = match (on, current.as_deref()) {
        (true, Some(v)) if v == version_id => false,
        (false, Some(v)) if v != version_id => false,
        (false, None) => false,
        (_, current) => {
            if current.is_some() {
                sqlx::query(
                    "UPDATE dataset_version_tags SET untagged_at = $1 \
                     WHERE dataset_id = $2 AND tag = $3 AND untagged_at IS NULL",
                )
                .bind(now)
                .bind(dataset_id)
                .bind(tag)
                .execute(&mut *tx)
                .await?;
            }
            if on {
                sqlx::query(
                    "INSERT INTO dataset_version_tags (dataset_id, tag, version_id, tagged_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(dataset_id)
                .bind(tag)
                .bind(version_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            true
        }
    };
    tx.commit().await?;
    Ok(changed)
}

/// One stored thing whose checksum does not match its content.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// `event` or `datasetVersion`.
    pub kind: &'static str,
    /// The event's sequence number or the version's id.
    pub id: String,
    pub detail: String,
}

/// What `verify` checked and found.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub events_checked: u64,
    pub versions_checked: u64,
    pub mismatches: Vec<Mismatch>,
}

/// Recomputes the content hash of every stored event and the checksum of every dataset version.
pub(super) async fn verify(pool: &AnyPool) -> Result<VerifyReport, StoreError> {
    const PAGE: i64 = 1000;
    let mut report = VerifyReport::default();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, hash, body FROM lineage_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            let stored: Vec<u8> = row.try_get(1)?;
            let compressed: Vec<u8> = row.try_get(2)?;
            report.events_checked += 1;
            let problem = match lz4_flex::decompress_size_prepended(&compressed) {
                Err(e) => Some(format!("body does not decompress: {e}")),
                Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
                    Err(e) => Some(format!("body is not JSON: {e}")),
                    Ok(v) if canonical::hash(&v).as_slice() != stored.as_slice() => Some(format!(
                        "content hash {} does not match the stored {}",
                        hex::encode(canonical::hash(&v)),
                        hex::encode(&stored)
                    )),
                    Ok(_) => None,
                },
            };
            if let Some(detail) = problem {
                report.mismatches.push(Mismatch {
                    kind: "event",
                    id: seq.to_string(),
                    detail,
                });
            }
        }
    }
    let mut after = String::new();
    loop {
        let sql = format!(
            "SELECT {VERSION_COLS} FROM dataset_versions WHERE id > $1 ORDER BY id LIMIT $2"
        );
        let rows = sqlx::query_as::<_, VersionRow>(&sql)
            .bind(&after)
            .bind(PAGE)
            .fetch_all(pool)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        for row in rows {
            report.versions_checked += 1;
            let v = version_from(row);
            if !v.checksum_valid {
                report.mismatches.push(Mismatch {
                    kind: "datasetVersion",
                    id: v.id,
                    detail: format!(
                        "checksum {} of a version of dataset {} does not match its facets",
                        v.checksum, v.dataset_id
                    ),
                });
            }
        }
    }
    Ok(report)
}

/// What retention removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionReport {
    pub cutoff: String,
    pub dry_run: bool,
    /// Raw events older than the cutoff.
    pub events: i64,
    /// Monthly partitions of the Postgres event log dropped whole.
    pub partitions: Vec<String>,
    /// Runs whose last event is older than the cutoff and that nothing kept needs.
    pub runs: i64,
    /// Old runs kept because a kept version or run needs them.
    pub runs_kept: i64,
    /// Dataset versions older than the cutoff that are not current, tagged or needed.
    pub versions: i64,
    /// Old versions kept because they are current, tagged, or needed by a kept run.
    pub versions_kept: i64,
    /// Jobs that lost runs, as `(namespace, name)`: their latest run may have changed.
    #[serde(skip)]
    pub jobs: Vec<(String, String)>,
}

#[derive(FromRow)]
struct RunRow {
    uuid: String,
    last_event_time: i64,
    parent_run_uuid: Option<String>,
    io: String,
}

#[derive(FromRow)]
struct VersionHead {
    id: String,
    dataset_id: String,
    created_at: i64,
    created_by_run: Option<String>,
}

/// The versions each run read or wrote: the one its event named, else those current at its time
/// that it did not write (`reads::BOUND_VERSION`; where versions tie on time, every one of them,
/// since keeping a version too many is harmless and the store's order of ids is its own).
fn run_versions<'a>(
    runs: &'a [RunRow],
    versions: &'a [VersionHead],
) -> Result<HashMap<&'a str, Vec<&'a str>>, StoreError> {
    let ids: HashSet<&str> = versions.iter().map(|v| v.id.as_str()).collect();
    let mut by_dataset: HashMap<&str, Vec<&VersionHead>> = HashMap::new();
    for v in versions {
        by_dataset.entry(&v.dataset_id).or_default().push(v);
    }
    for list in by_dataset.values_mut() {
        list.sort_by_key(|v| v.created_at);
    }
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in runs {
        let bound = out.entry(&r.uuid).or_default();
        for ((_, _, dataset), io) in io_from_stored(&r.uuid, &r.io)? {
            if let Some(id) = io.version_id {
                bound.extend(ids.get(id.as_str()));
                continue;
            }
            let Some(list) = by_dataset.get(dataset.as_str()) else {
                continue;
            };
            let before = list.partition_point(|v| v.created_at <= io.bind_time);
            let mut time = None;
            for v in list[..before].iter().rev() {
                if v.created_by_run.as_deref() == Some(r.uuid.as_str()) {
                    continue;
                }
                if time.is_some_and(|t| t != v.created_at) {
                    break;
                }
                time = Some(v.created_at);
                bound.push(&v.id);
            }
        }
    }
    Ok(out)
}

/// Removes raw events and run details older than `cutoff`, keeping every dataset's current
/// version, every tagged version, and whatever a kept run or version needs: the versions a kept
/// run read and wrote, the run that produced a kept version, a kept run's parent, transitively.
/// Job versions (the lineage graph) are never removed.
pub(super) async fn retention(
    pool: &AnyPool,
    backend: Backend,
    cutoff: Micros,
    dry_run: bool,
    writer_lock: i64,
) -> Result<RetentionReport, StoreError> {
    // On Postgres ingest waits meanwhile, so nothing binds to a version while it goes.
    // Runs and versions may go: no writer may keep them.
    let mut tx = super::hot::begin_change(pool, backend, writer_lock).await?;
    let runs =
        sqlx::query_as::<_, RunRow>("SELECT uuid, last_event_time, parent_run_uuid, io FROM runs")
            .fetch_all(&mut *tx)
            .await?;
    let versions = sqlx::query_as::<_, VersionHead>(
        "SELECT id, dataset_id, created_at, created_by_run FROM dataset_versions",
    )
    .fetch_all(&mut *tx)
    .await?;
    let pinned: Vec<String> = sqlx::query_scalar(
        "SELECT current_version_id FROM datasets WHERE current_version_id IS NOT NULL \
         UNION SELECT version_id FROM dataset_version_tags WHERE untagged_at IS NULL",
    )
    .fetch_all(&mut *tx)
    .await?;

    let run_versions = run_versions(&runs, &versions)?;
    let parent: HashMap<&str, &str> = runs
        .iter()
        .filter_map(|r| Some((r.uuid.as_str(), r.parent_run_uuid.as_deref()?)))
        .collect();
    let producer: HashMap<&str, &str> = versions
        .iter()
        .filter_map(|v| Some((v.id.as_str(), v.created_by_run.as_deref()?)))
        .collect();

    let mut keep_runs: HashSet<&str> = HashSet::new();
    let mut keep_versions: HashSet<&str> = HashSet::new();
    let mut runs_todo: Vec<&str> = runs
        .iter()
        .filter(|r| r.last_event_time >= cutoff)
        .map(|r| r.uuid.as_str())
        .collect();
    let mut versions_todo: Vec<&str> = versions
        .iter()
        .filter(|v| v.created_at >= cutoff)
        .map(|v| v.id.as_str())
        .chain(pinned.iter().map(String::as_str))
        .collect();
    while !runs_todo.is_empty() || !versions_todo.is_empty() {
        while let Some(r) = runs_todo.pop() {
            if keep_runs.insert(r) {
                versions_todo.extend(run_versions.get(r).into_iter().flatten());
                runs_todo.extend(parent.get(r));
            }
        }
        while let Some(v) = versions_todo.pop() {
            if keep_versions.insert(v) {
                runs_todo.extend(producer.get(v));
            }
        }
    }

    let drop_runs: Vec<&str> = runs
        .iter()
        .map(|r| r.uuid.as_str())
        .filter(|r| !keep_runs.contains(r))
        .collect();
    let drop_versions: Vec<&str> = versions
        .iter()
        .map(|v| v.id.as_str())
        .filter(|v| !keep_versions.contains(v))
        .collect();
    let old_runs = runs.iter().filter(|r| r.last_event_time < cutoff).count() as i64;
    let old_versions = versions.iter().filter(|v| v.created_at < cutoff).count() as i64;
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM lineage_events WHERE event_time < $1")
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?;
    let mut report = RetentionReport {
        cutoff: time::iso(cutoff),
        dry_run,
        events,
        partitions: Vec::new(),
        runs: drop_runs.len() as i64,
        runs_kept: old_runs - drop_runs.len() as i64,
        versions: drop_versions.len() as i64,
        versions_kept: old_versions - drop_versions.len() as i64,
        jobs: Vec::new(),
    };

    if backend == Backend::Postgres {
        // Whole months before the cutoff go as partitions.
        let rows = sqlx::query(
            "SELECT table_name, month_start FROM lineage_event_partitions ORDER BY month_start",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let name: String = row.try_get(0)?;
            let start: i64 = row.try_get(1)?;
            if super::sql::month_end(start) <= cutoff {
                report.partitions.push(name);
            }
        }
    }
    if dry_run {
        tx.rollback().await?;
        return Ok(report);
    }
    for name in &report.partitions {
        tx.execute(format!("DROP TABLE IF EXISTS {name}").as_str())
            .await?;
        sqlx::query("DELETE FROM lineage_event_partitions WHERE table_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM lineage_events WHERE event_time < $1")
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    for chunk in drop_runs.chunks(500) {
        let args: Vec<Arg> = chunk.iter().map(|s| Arg::from(*s)).collect();
        let sql = format!(
            "SELECT DISTINCT j.namespace, j.name FROM runs r JOIN jobs j ON j.id = r.job_id \
             WHERE r.uuid IN ({})",
            list(chunk.len())
        );
        let jobs: Vec<(String, String)> = bind_all_as(sqlx::query_as(&sql), &args)
            .fetch_all(&mut *tx)
            .await?;
        report.jobs.extend(jobs);
        let sql = format!("DELETE FROM runs WHERE uuid IN ({})", list(chunk.len()));
        bind_all(sqlx::query(&sql), &args).execute(&mut *tx).await?;
    }
    for chunk in drop_versions.chunks(500) {
        let args: Vec<Arg> = chunk.iter().map(|s| Arg::from(*s)).collect();
        let sql = format!(
            "DELETE FROM dataset_versions WHERE id IN ({})",
            list(chunk.len())
        );
        bind_all(sqlx::query(&sql), &args).execute(&mut *tx).await?;
    }
    // Old tag history that points at removed versions has nothing left to name.
    for chunk in drop_versions.chunks(500) {
        let args: Vec<Arg> = chunk.iter().map(|s| Arg::from(*s)).collect();
        let sql = format!(
            "DELETE FROM dataset_version_tags WHERE untagged_at IS NOT NULL AND version_id IN ({})",
            list(chunk.len())
        );
        bind_all(sqlx::query(&sql), &args).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    report.jobs.sort();
    report.jobs.dedup();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, dataset: &str, created_at: i64, by: Option<&str>) -> VersionHead {
        VersionHead {
            id: id.into(),
            dataset_id: dataset.into(),
            created_at,
            created_by_run: by.map(Into::into),
        }
    }

    /// Retention keeps what a run read and wrote as the reads bind it (`reads::BOUND_VERSION`).
    #[test]
    fn runs_need_the_versions_their_inputs_and_outputs_are_bound_to() {
        let io = |entries: &[(&str, &str, Option<&str>, i64)]| {
            let entries: Vec<serde_json::Value> = entries
                .iter()
                .map(|(dir, dataset, version, t)| {
                    serde_json::json!({"dir": dir, "dataset": dataset, "version": version,
                        "bind_time": t, "facets": {}})
                })
                .collect();
            serde_json::to_string(&entries).unwrap()
        };
        let run = |uuid: &str, io: String| RunRow {
            uuid: uuid.into(),
            last_event_time: 0,
            parent_run_uuid: None,
            io,
        };
        let versions = [
            version("a1", "a", 10, Some("w")),
            version("a2", "a", 20, Some("r")),
            version("a3", "a", 30, Some("w")),
            version("b1", "b", 10, None),
            version("b2", "b", 15, None),
            version("b3", "b", 15, None),
            version("c1", "c", 5, None),
        ];
        let runs = [
            run(
                "r",
                io(&[
                    // At 25 the latest of `a` is a2, but `r` wrote that one itself.
                    ("in", "a", None, 25),
                    // Two versions at 15: either may be the one the store's order picks.
                    ("in", "b", None, 16),
                    ("out", "a", Some("a2"), 20),
                    // A version named by the event, whatever the time.
                    ("in", "c", Some("c1"), 1),
                ]),
            ),
            // Nothing of `b` yet at 5; a named version that is not stored is no version.
            run(
                "s",
                io(&[("in", "b", None, 5), ("in", "a", Some("gone"), 40)]),
            ),
        ];
        let got = run_versions(&runs, &versions).unwrap();
        let mut r = got["r"].clone();
        r.sort();
        assert_eq!(r, ["a1", "a2", "b2", "b3", "c1"]);
        assert!(got["s"].is_empty());
    }
}
