//! The command line: `tributary serve | migrate | import | rebuild | manifest | check |
//! reproduce | verify |
//! retention | keys | sync | export-schema | bench`.

pub mod bench;
mod bench_api;
mod bench_cpu;
mod bench_graph;
mod bench_kafka;
mod bench_rest;
pub mod client;
mod import;
pub mod keys;
mod rebuild;
mod repro;
mod sync;
mod sync_mlflow;

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

/// The server a command talks to (`TRIBUTARY_API_KEY` is sent when set).
#[derive(clap::Args)]
pub struct ServerUrl {
    /// The server, e.g. http://127.0.0.1:5000 (also TRIBUTARY_SERVER).
    #[arg(
        long,
        env = "TRIBUTARY_SERVER",
        default_value = "http://127.0.0.1:5000"
    )]
    pub server: String,
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
    /// Print what it takes to reproduce a run: its job version and the exact dataset versions it
    /// read and wrote (and, with --depth, the runs that wrote those, recursively).
    Manifest {
        #[command(flatten)]
        server: ServerUrl,
        /// The run id (a UUID).
        #[arg(long)]
        run: String,
        /// How many levels of producing runs to include.
        #[arg(long, default_value_t = 0)]
        depth: u32,
        /// json or toml.
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// A build gate: exit 0 when every expected dataset version exists, 1 listing the missing.
    Check {
        #[command(flatten)]
        server: ServerUrl,
        /// NAMESPACE:NAME, NAMESPACE:NAME@TAG or NAMESPACE:NAME#VERSION (repeatable).
        #[arg(long)]
        expect: Vec<String>,
        /// Also check that every dataset version this run read still exists.
        #[arg(long)]
        inputs_of: Option<String>,
        /// Also ask the storage whether each version's exact snapshot can still be read: the
        /// Delta log and data files, the Iceberg snapshot and manifest list, the DVC object, the
        /// lakeFS commit.
        #[arg(long)]
        storage: bool,
        /// A DVC cache or remote to look for objects in (a path or s3:// URL; repeatable).
        /// Default: the cache and remotes of the DVC repository in the working directory.
        #[arg(long)]
        dvc_store: Vec<String>,
    },
    /// What made a dataset version (a model) and how to read each input's exact data again:
    /// a DVC checkout, a Delta or Iceberg time-travel query, a lakeFS ref. Exit 1 when any
    /// input cannot be read back exactly.
    Reproduce {
        /// NAMESPACE:NAME (the current version), NAMESPACE:NAME@VERSION_OR_TAG or #VERSION.
        target: String,
        /// How many levels of producing runs to include.
        #[arg(long, default_value_t = 1)]
        depth: u32,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerUrl,
    },
    /// Recompute the checksums of stored events and dataset versions; exit 1 on any mismatch.
    Verify {
        /// Also ask the storage whether the snapshot of every version depended on (tagged, or
        /// read by the run that wrote a tagged version) can still be read; exit 1 on any that
        /// cannot.
        #[arg(long)]
        storage: bool,
        /// A DVC cache or remote to look for objects in (a path or s3:// URL; repeatable).
        #[arg(long)]
        dvc_store: Vec<String>,
    },
    /// Remove raw events and run details older than a cutoff; current and tagged versions, what
    /// they need, and the lineage graph stay.
    Retention {
        /// How old is too old: 90d, 12h, 2w, 0d …
        #[arg(long)]
        older_than: String,
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
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
    /// Bridges: send another tool's runs as OpenLineage events (sync dvc).
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// API keys: create (printed once), list, revoke.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
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
    // `sync` writes into a store directly only when one is named on the command line.
    let direct = cli.database_url.is_some();
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
            Command::Manifest {
                server,
                run,
                depth,
                format,
            } => repro::manifest(&server.server, &run, depth, &format).await,
            Command::Check {
                server,
                expect,
                inputs_of,
                storage,
                dvc_store,
            } => {
                let sources = storage.then(|| crate::snapshots::Sources::discover(dvc_store));
                repro::check(
                    &server.server,
                    &expect,
                    inputs_of.as_deref(),
                    sources.as_ref(),
                )
                .await
            }
            Command::Reproduce {
                target,
                depth,
                json,
                server,
            } => repro::reproduce(&server.server, &target, depth, json).await,
            Command::Verify { storage, dvc_store } => {
                let sources = storage.then(|| crate::snapshots::Sources::discover(dvc_store));
                repro::verify(&config, sources.as_ref()).await
            }
            Command::Retention {
                older_than,
                dry_run,
            } => repro::retention(&config, &older_than, dry_run).await,
            Command::ExportSchema { check, dir } => export_schema(&dir, check),
            Command::Keys(k) => keys::run(&config, k).await,
            Command::Sync(s) => sync::run(&config, direct, s).await,
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
