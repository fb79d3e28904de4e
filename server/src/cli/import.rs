//! `tributary import`: events from files, through the same validation as the HTTP endpoint.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::config::Config;
use crate::ingest::{prepare_event, PreparedEvent, Validator, Writer};
use crate::model::time::now_micros;
use crate::startup::open_store;
use crate::store::Ingested;

const BATCH: usize = 500;

/// Every file under the given paths, sorted, that looks like events.
fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            entries.sort();
            for e in entries {
                if e.is_dir() {
                    out.extend(files(&[e])?);
                } else if is_event_file(&e) {
                    out.push(e);
                }
            }
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", p.display()),
            ));
        }
    }
    Ok(out)
}

fn is_event_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".json") || name.ends_with(".ndjson") || name.ends_with(".jsonl")
}

/// One event read from a file: where it came from, and the parsed value with its bytes (or why
/// it could not be read).
pub type FileEvent = (String, Result<(Value, Vec<u8>), String>);

/// The events in one file, each with where it came from (`file`, `file#3`, `file:12`).
pub fn read_events(path: &Path) -> Result<Vec<FileEvent>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.display().to_string();
    let lower = name.to_ascii_lowercase();
    let (bytes, lower) = if lower.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format!("{name}: not valid gzip: {e}"))?;
        (out, lower.trim_end_matches(".gz").to_string())
    } else {
        (raw, lower)
    };
    let ndjson = lower.ends_with(".ndjson") || lower.ends_with(".jsonl");
    let mut out = Vec::new();
    if ndjson {
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice::<Value>(line)
                .map(|v| (v, line.to_vec()))
                .map_err(|e| format!("not valid JSON: {e}"));
            out.push((format!("{name}:{}", i + 1), parsed));
        }
        return Ok(out);
    }
    match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&bytes) {
        Ok(items) => {
            for (i, raw) in items.into_iter().enumerate() {
                let v: Value =
                    serde_json::from_str(raw.get()).map_err(|e| format!("{name}#{i}: {e}"))?;
                out.push((
                    format!("{name}#{i}"),
                    Ok((v, raw.get().as_bytes().to_vec())),
                ));
            }
        }
        Err(_) => {
            let parsed = serde_json::from_slice::<Value>(&bytes)
                .map(|v| (v, bytes.clone()))
                .map_err(|e| format!("not valid JSON: {e}"));
            out.push((name, parsed));
        }
    }
    Ok(out)
}

/// Events on their way into the store: validated and prepared as HTTP ingest does, handed to
/// the write path in batches, counted.
struct Loader {
    validator: Validator,
    writer: Writer,
    writer_task: tokio::task::JoinHandle<()>,
    batch: Vec<PreparedEvent>,
    tally: Tally,
}

impl Loader {
    async fn open(config: &Config) -> anyhow::Result<Loader> {
        let store = open_store(config).await?;
        // No graph here: a server on the same database hears of the batches as they commit.
        let (writer, writer_task) = Writer::start(store, BATCH, None);
        Ok(Loader {
            validator: Validator::new(config.validation),
            writer,
            writer_task,
            batch: Vec::with_capacity(BATCH),
            tally: Tally::default(),
        })
    }

    /// One event read from somewhere (`origin` names where, for the report).
    async fn push(
        &mut self,
        origin: String,
        parsed: Result<(Value, Vec<u8>), String>,
    ) -> anyhow::Result<()> {
        let prepared = parsed.and_then(|(value, body)| {
            prepare_event(&self.validator, value, body, now_micros()).map_err(|r| r.summary())
        });
        match prepared {
            Ok(p) => {
                self.tally.warnings += p.warnings.len();
                self.batch.push(p);
                if self.batch.len() >= BATCH {
                    flush(&self.writer, &mut self.batch, &mut self.tally).await?;
                }
            }
            Err(reason) => self.tally.rejected.push((origin, reason)),
        }
        Ok(())
    }

    /// Events stored so far, counting those waiting in the batch.
    fn pending(&self) -> (usize, usize) {
        (
            self.tally.stored + self.batch.len(),
            self.tally.rejected.len(),
        )
    }

    /// Stores what is left, prints each refusal and the summary (`what` says where the events
    /// came from); exit 1 if any event was refused.
    async fn finish(mut self, what: &str) -> anyhow::Result<ExitCode> {
        flush(&self.writer, &mut self.batch, &mut self.tally).await?;
        drop(self.writer);
        self.writer_task.await?;
        let tally = self.tally;
        for (origin, reason) in &tally.rejected {
            eprintln!("rejected {origin}: {reason}");
        }
        println!(
            "{what}: {} events stored, {} duplicates skipped, {} rejected, {} facet warnings",
            tally.stored,
            tally.duplicates,
            tally.rejected.len(),
            tally.warnings
        );
        Ok(if tally.rejected.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// Stores events made by the bridges (`sync dvc`) directly, as `import` stores files.
pub async fn store_values(
    config: &Config,
    what: &str,
    events: Vec<(String, Value)>,
) -> anyhow::Result<ExitCode> {
    let mut loader = Loader::open(config).await?;
    for (origin, event) in events {
        let body = serde_json::to_vec(&event)?;
        loader.push(origin, Ok((event, body))).await?;
    }
    loader.finish(what).await
}

#[derive(Default)]
struct Tally {
    stored: usize,
    duplicates: usize,
    rejected: Vec<(String, String)>,
    warnings: usize,
}

/// Hands a batch to the write path (one transaction, announced to servers on the same
/// database as HTTP ingest is) and counts what became of it.
async fn flush(
    writer: &Writer,
    batch: &mut Vec<PreparedEvent>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    for r in writer.write(std::mem::take(batch)).await? {
        match r {
            Ingested::Stored => tally.stored += 1,
            Ingested::Duplicate => tally.duplicates += 1,
        }
    }
    Ok(())
}

pub async fn run(config: &Config, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut loader = Loader::open(config).await?;
    let files = files(paths)?;
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg}").expect("template"),
    );
    for file in &files {
        let events = match read_events(file) {
            Ok(events) => events,
            Err(e) => {
                loader.tally.rejected.push((file.display().to_string(), e));
                bar.inc(1);
                continue;
            }
        };
        for (origin, parsed) in events {
            loader.push(origin, parsed).await?;
        }
        bar.inc(1);
        let (stored, rejected) = loader.pending();
        bar.set_message(format!("{stored} stored, {rejected} rejected"));
    }
    bar.finish_and_clear();
    loader.finish(&format!("{} files", files.len())).await
}
