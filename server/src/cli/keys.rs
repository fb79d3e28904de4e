//! `tributary keys create | list | revoke`: API keys, made and revoked in the database directly
//! (so the first admin key needs no key). A new key is printed once; only its hash is stored.
//! Revoking takes effect at once on every server sharing the database (keys are checked
//! against the database on each request that needs one).

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use crate::config::Config;
use crate::model::access::{new_key, AuditEntry, KeyRecord, Scope};
use crate::model::time::{iso, now_micros};
use crate::startup::open_store;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (once: only its hash is kept).
    Create {
        /// A name for the key: who or what uses it (`airflow-prod`, `ci`, `alice`).
        #[arg(long)]
        name: String,
        /// ingest (send events), read (GET, GraphQL queries, /metrics) or admin (everything,
        /// including deletes, tags and the audit trail). Repeatable.
        #[arg(long = "scope", required = true)]
        scopes: Vec<Scope>,
    },
    /// List keys (never their text).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the live key with this name.
    Revoke { name: String },
}

/// The audit trail's name for whoever runs the command line.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

pub async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    match command {
        KeysCommand::Create { name, scopes } => {
            let key = new_key(&name, &scopes, now_micros()).map_err(anyhow::Error::msg)?;
            if !store.create_key(&key.record).await? {
                bail!(
                    "a live key is already named '{}': revoke it first, or pick another name",
                    key.record.name
                );
            }
            let entry = AuditEntry::by(
                &cli_actor(),
                "key.create",
                format!(
                    "{} ({})",
                    key.record.name,
                    KeyRecord::scopes_text(&key.record.scopes)
                ),
            );
            crate::store::record_audit(store.as_ref(), &entry).await;
            println!("{}", key.secret);
            eprintln!(
                "created key '{}' with scopes {}; it is shown only this once. Clients send it as \
                 'Authorization: Bearer <key>'. A server started with no keys on a loopback \
                 address runs with auth off until it is restarted (or set auth / TRIBUTARY_AUTH).",
                key.record.name,
                KeyRecord::scopes_text(&key.record.scopes)
            );
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::List { json } => {
            let keys = store.keys().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if keys.is_empty() {
                println!("no keys");
            } else {
                println!(
                    "{:<24} {:<14} {:<20} {:<28} revoked",
                    "name", "id", "scopes", "created"
                );
                for k in &keys {
                    println!(
                        "{:<24} {:<14} {:<20} {:<28} {}",
                        k.name,
                        k.id,
                        KeyRecord::scopes_text(&k.scopes),
                        iso(k.created_at),
                        k.revoked_at.map(iso).unwrap_or_else(|| "-".into())
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Revoke { name } => {
            if !store.revoke_key(&name).await? {
                eprintln!("no live key is named '{name}'");
                return Ok(ExitCode::FAILURE);
            }
            let entry = AuditEntry::by(&cli_actor(), "key.revoke", name.clone());
            crate::store::record_audit(store.as_ref(), &entry).await;
            eprintln!("revoked key '{name}'; servers refuse it from their next request");
            Ok(ExitCode::SUCCESS)
        }
    }
}
