//! Delta Lake: a version can be read while the table's `_delta_log` still describes it and
//! every data file live at that version still exists. `VACUUM` deletes the files a later
//! version removed once they are older than its retention; log clean-up deletes old commit
//! files once a checkpoint covers them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{file_path, list, missing, read, some, Place, Probe};

/// What `_delta_log` holds: commit versions, and checkpoint versions with their files (one, or
/// the parts of a multi-part checkpoint).
#[derive(Debug, Default, PartialEq)]
struct Log {
    commits: BTreeSet<u64>,
    checkpoints: BTreeMap<u64, Vec<String>>,
}

impl Log {
    fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Log {
        let mut log = Log::default();
        for name in names {
            let Some((number, rest)) = name.split_once('.') else {
                continue;
            };
            let Ok(version) = number.parse::<u64>() else {
                continue;
            };
            if number.len() != 20 {
                continue;
            }
            if rest == "json" {
                log.commits.insert(version);
            } else if rest.starts_with("checkpoint") && rest.ends_with(".parquet") {
                log.checkpoints
                    .entry(version)
                    .or_default()
                    .push(name.to_string());
            }
        }
        log
    }

    /// Where replaying up to `version` starts: 0 when every commit from 0 is there, else the
    /// newest checkpoint at or before it with every commit after it; `None` when the log no
    /// longer covers `version`.
    fn start(&self, version: u64) -> Option<Replay> {
        let covered = |from: u64| (from..=version).all(|v| self.commits.contains(&v));
        if covered(0) {
            return Some(Replay::FromStart);
        }
        let checkpoint = *self.checkpoints.range(..=version).next_back()?.0;
        (checkpoint == version || covered(checkpoint + 1))
            .then_some(Replay::FromCheckpoint(checkpoint))
    }
}

#[derive(Debug, PartialEq)]
enum Replay {
    FromStart,
    FromCheckpoint(u64),
}

/// What a checkpoint (part) lists: the `add.path` of every data file live at its version, and
/// the `sidecar.path` of the sidecar files a V2 checkpoint keeps its adds in. Only those columns
/// are read.
fn checkpoint_files(bytes: Vec<u8>) -> Result<(Vec<String>, Vec<String>), String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    use parquet::schema::types::Type;
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
        .map_err(|e| format!("not a Parquet checkpoint: {e}"))?;
    let schema = reader.metadata().file_metadata().schema();
    // Each of `add` and `sidecar` with only its `path`, in the file's own types.
    let mut columns = Vec::new();
    for action in ["add", "sidecar"] {
        let Some(group) = schema.get_fields().iter().find(|f| f.name() == action) else {
            continue;
        };
        let Some(path) = group.get_fields().iter().find(|f| f.name() == "path") else {
            return Err(format!("its {action} column has no path"));
        };
        let projected = Type::group_type_builder(action)
            .with_repetition(group.get_basic_info().repetition())
            .with_fields(vec![path.clone()])
            .build()
            .map_err(|e| format!("cannot read its {action}.path column: {e}"))?;
        columns.push((action, std::sync::Arc::new(projected)));
    }
    if columns.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let projection = Type::group_type_builder(schema.name())
        .with_fields(columns.iter().map(|(_, t)| t.clone()).collect())
        .build()
        .map_err(|e| format!("cannot read its path columns: {e}"))?;
    let rows = reader
        .get_row_iter(Some(projection))
        .map_err(|e| format!("cannot read its path columns: {e}"))?;
    let (mut adds, mut sidecars) = (Vec::new(), Vec::new());
    for row in rows {
        let row = row.map_err(|e| format!("a checkpoint row cannot be read: {e}"))?;
        for (i, (action, _)) in columns.iter().enumerate() {
            // A row holds one action; the others are null.
            if let Ok(path) = row.get_group(i).and_then(|g| g.get_string(0).cloned()) {
                if *action == "add" {
                    adds.push(path);
                } else {
                    sidecars.push(path);
                }
            }
        }
    }
    Ok((adds, sidecars))
}

/// Applies one commit's actions to the set of live data files.
fn apply(live: &mut BTreeSet<String>, commit: &[u8]) -> Result<(), String> {
    for line in commit.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let action: Value =
            serde_json::from_slice(line).map_err(|e| format!("a log entry is not JSON: {e}"))?;
        if let Some(path) = action.pointer("/add/path").and_then(Value::as_str) {
            live.insert(path.to_string());
        }
        if let Some(path) = action.pointer("/remove/path").and_then(Value::as_str) {
            live.remove(path);
        }
    }
    Ok(())
}

/// Whether version `version` of the Delta table at `table` can still be read.
pub async fn probe(table: &Place, version: &str) -> Probe {
    match check(table, version).await {
        Ok(p) => p,
        Err(e) => Probe::Unknown(e),
    }
}

async fn check(table: &Place, version: &str) -> Result<Probe, String> {
    let Ok(v) = version.parse::<u64>() else {
        return Ok(Probe::Gone(format!(
            "'{version}' is not a Delta version number"
        )));
    };
    let log_dir = table.join("_delta_log");
    let entries = list(table, &log_dir).await?;
    let log = Log::of(entries.iter().filter_map(|m| m.location.filename()));
    let Some(&last) = log.commits.iter().next_back() else {
        return Ok(Probe::Gone(format!(
            "no Delta log at {}: the table is gone or was moved",
            table.show(&log_dir)
        )));
    };
    if v > last {
        return Ok(Probe::Gone(format!(
            "the Delta log ends at version {last}: version {v} was never written here"
        )));
    }
    let start = match log.start(v) {
        Some(s) => s,
        None => {
            return Ok(Probe::Gone(format!(
                "version {v} is no longer in the Delta log: its commit files were cleaned up (the log starts at version {}) and no checkpoint covers it",
                log.commits.iter().next().copied().unwrap_or(last)
            )))
        }
    };
    let mut live = BTreeSet::new();
    let first = match start {
        Replay::FromStart => 0,
        Replay::FromCheckpoint(c) => {
            let mut parts: Vec<String> = log
                .checkpoints
                .get(&c)
                .into_iter()
                .flatten()
                .map(|p| format!("_delta_log/{p}"))
                .collect();
            while let Some(part) = parts.pop() {
                let name = table.join(&part);
                let shown = table.show(&name);
                let bytes = read(table, &name)
                    .await?
                    .ok_or_else(|| format!("{shown} is gone: the checkpoint cannot be read"))?;
                let (adds, sidecars) =
                    checkpoint_files(bytes).map_err(|e| format!("{shown}: {e}"))?;
                live.extend(adds);
                parts.extend(sidecars.iter().map(|p| format!("_delta_log/_sidecars/{p}")));
            }
            c + 1
        }
    };
    for n in first..=v {
        let name = table.join(&format!("_delta_log/{n:020}.json"));
        let shown = table.show(&name);
        let commit = read(table, &name)
            .await?
            .ok_or_else(|| format!("{shown} went while it was read"))?;
        apply(&mut live, &commit).map_err(|e| format!("{shown}: {e}"))?;
    }
    let mut paths = Vec::with_capacity(live.len());
    for file in &live {
        paths.push(file_path(&table.root, file)?);
    }
    let n = paths.len();
    let gone = missing(table, paths).await?;
    if !gone.is_empty() {
        let (count, verb) = match (gone.len(), n) {
            (1, 1) => ("the one data file".to_string(), "is"),
            (g, n) if g == n => (format!("all {n} data files"), "are"),
            (1, n) => (format!("1 of the {n} data files"), "is"),
            (g, n) => (format!("{g} of the {n} data files"), "are"),
        };
        return Ok(Probe::Gone(format!(
            "{count} of version {v} {verb} gone (removed by VACUUM?): {}",
            some(table, &gone)
        )));
    }
    Ok(Probe::Present(match start {
        Replay::FromStart => format!("Delta version {v}: in the log, its {n} data files present"),
        Replay::FromCheckpoint(c) => {
            format!("Delta version {v}: in the log from checkpoint {c}, its {n} data files present")
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_read_from_its_file_names() {
        let log = Log::of([
            "00000000000000000000.json",
            "00000000000000000001.json",
            "00000000000000000001.crc",
            "00000000000000000002.checkpoint.parquet",
            "00000000000000000003.checkpoint.0000000001.0000000002.parquet",
            "_last_checkpoint",
            "7.json",
        ]);
        assert_eq!(log.commits, BTreeSet::from([0, 1]));
        assert_eq!(
            log.checkpoints.keys().copied().collect::<Vec<_>>(),
            vec![2, 3]
        );
    }

    #[test]
    fn a_version_is_covered_from_the_start_or_a_checkpoint() {
        let log = Log {
            commits: BTreeSet::from([0, 1, 2]),
            checkpoints: BTreeMap::new(),
        };
        assert_eq!(log.start(2), Some(Replay::FromStart));
        // Commits 0–9 cleaned up after checkpoint 10.
        let log = Log {
            commits: BTreeSet::from([10, 11, 12]),
            checkpoints: BTreeMap::from([(
                10,
                vec!["00000000000000000010.checkpoint.parquet".into()],
            )]),
        };
        assert_eq!(log.start(12), Some(Replay::FromCheckpoint(10)));
        assert_eq!(log.start(10), Some(Replay::FromCheckpoint(10)));
        assert_eq!(log.start(5), None);
    }

    #[test]
    fn removes_undo_adds() {
        let mut live = BTreeSet::new();
        apply(
            &mut live,
            br#"{"commitInfo":{}}
{"add":{"path":"a.parquet","size":1}}
{"add":{"path":"b.parquet","size":1}}
"#,
        )
        .unwrap();
        apply(
            &mut live,
            br#"{"remove":{"path":"a.parquet"}}
{"add":{"path":"c.parquet"}}"#,
        )
        .unwrap();
        assert_eq!(
            live.iter().collect::<Vec<_>>(),
            vec!["b.parquet", "c.parquet"]
        );
        assert!(apply(&mut live, b"{not json").is_err());
    }
}
