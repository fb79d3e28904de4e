//! The command line: `tributary serve | migrate | import | rebuild | bench`.

pub mod bench;
mod bench_graph;
mod bench_rest;
pub mod client;
mod import;
mod rebuild;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::ingest::ValidationMode;
use crate::startup::{open_store, Application};
use crate::telemetry;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "OpenLineage-compatible lineage metadata service"
)]
struct Cli {
    /// A TOML configuration file (also TRIBUTARY_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The database: sqlite://PATH (default sqlite://tributary.db) or postgres://… (also TRIBUTARY_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:5000; also TRIBUTARY_BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Load OpenLineage events from .json, .ndjson/.jsonl and .gz files or folders.
    Import {
        /// Files or folders (folders are walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Refuse events with malformed standard facets instead of flagging them.
        #[arg(long)]
        strict: bool,
    },
    /// Rebuild the model tables from the raw event log (stop the server first).
    Rebuild,
    /// Write the checked-in API artifacts (schema/openapi.json, schema/lineage.graphql), or check
    /// they are current.
    ExportSchema {
        /// Fail (exit 1) when the checked-in files differ instead of writing them.
        #[arg(long)]
        check: bool,
        /// Where the repository's schema/ folder is.
        #[arg(long, default_value = "schema")]
        dir: PathBuf,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn export_schema(dir: &std::path::Path, check: bool) -> anyhow::Result<ExitCode> {
    let artifacts = [
        ("openapi.json", crate::http::openapi::document_text()),
        ("lineage.graphql", crate::graphql::sdl()),
    ];
    let mut stale = false;
    for (file, text) in artifacts {
        let path = dir.join(file);
        if check {
            if std::fs::read_to_string(&path).unwrap_or_default() != text {
                eprintln!(
                    "{} is out of date: run `tributary export-schema`",
                    path.display()
                );
                stale = true;
            } else {
                println!("{} is current", path.display());
            }
        } else {
            std::fs::write(&path, text)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(if stale {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the command line; the process exit code is the answer.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = cli.database_url {
        config.database_url = url;
    }
    telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { bind } => {
                if let Some(bind) = bind {
                    config.bind = bind;
                }
                Application::build(&config)
                    .await?
                    .run_until_stopped()
                    .await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Migrate => {
                open_store(&config).await?;
                println!(
                    "migrations applied to {}",
                    crate::startup::redact(&config.database_url)
                );
                Ok(ExitCode::SUCCESS)
            }
            Command::Import { paths, strict } => {
                if strict {
                    config.validation = ValidationMode::Strict;
                }
                import::run(&config, &paths).await
            }
            Command::Rebuild => rebuild::run(&config).await,
            Command::ExportSchema { check, dir } => export_schema(&dir, check),
            Command::Bench(b) => bench::run(&config, b).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
