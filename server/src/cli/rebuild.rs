//! `tributary rebuild`: empty the model tables and replay the raw event log into them. Ids are
//! deterministic, so the rebuilt model has the same ids as before.

use std::process::ExitCode;

use indicatif::ProgressBar;
use serde_json::Value;

use crate::config::Config;
use crate::ingest::{prepare_logged, ValidationMode, Validator};
use crate::model::time::now_micros;
use crate::startup::open_store;

const CHUNK: i64 = 500;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    // Every stored event was accepted once; replay keeps what lenient validation keeps.
    let validator = Validator::new(ValidationMode::Lenient);
    let total = store.event_count().await?;
    let bar = ProgressBar::new(total as u64);
    store.clear_model().await?;
    let mut after = 0;
    let mut replayed = 0u64;
    let mut unreadable = 0u64;
    loop {
        let rows = store.event_bodies(after, CHUNK).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let mut batch = Vec::with_capacity(rows.len());
        for (seq, body) in rows {
            let prepared = serde_json::from_slice::<Value>(&body)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    prepare_logged(&validator, v, body.len(), now_micros()).map_err(|r| r.summary())
                });
            match prepared {
                Ok(p) => batch.push(p),
                Err(e) => {
                    unreadable += 1;
                    eprintln!("event {seq} cannot be replayed: {e}");
                }
            }
        }
        replayed += batch.len() as u64;
        store.replay(&batch).await?;
        bar.inc(CHUNK as u64);
    }
    bar.finish_and_clear();
    println!("rebuilt the model from {replayed} events ({unreadable} unreadable)");
    Ok(if unreadable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
