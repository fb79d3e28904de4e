//! `tributary bench …`: benchmarks that measure against a baseline in the same run.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput and latency over HTTP against Postgres, with a jsonb baseline.
    Ingest,
}

pub async fn run(_config: &Config, _cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
