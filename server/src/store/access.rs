//! API keys (stored hashed) and the audit trail.

use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::model::access::{AuditEntry, KeyRecord};

const KEY_COLS: &str = "id, name, scopes, hash, created_at, revoked_at";

fn key_from(row: &sqlx::any::AnyRow) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: KeyRecord::parse_scopes(&row.try_get::<String, _>("scopes")?),
        hash: row.try_get("hash")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Stores a key; `false` when a live key already has its name.
pub(super) async fn create_key(pool: &AnyPool, key: &KeyRecord) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO api_keys (id, name, scopes, hash, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(KeyRecord::scopes_text(&key.scopes))
    .bind(&key.hash)
    .bind(key.created_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every key, live ones first, then by name.
pub(super) async fn keys(pool: &AnyPool) -> Result<Vec<KeyRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLS} FROM api_keys ORDER BY revoked_at IS NOT NULL, name, created_at"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(key_from).collect()
}

/// The key with this public id, revoked or not.
pub(super) async fn key(pool: &AnyPool, id: &str) -> Result<Option<KeyRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(key_from).transpose()
}

/// Revokes the live key named `name`; `false` when there is none.
pub(super) async fn revoke_key(pool: &AnyPool, name: &str, now: i64) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(name)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether any live key exists.
pub(super) async fn has_keys(pool: &AnyPool) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

pub(super) async fn record_audit(pool: &AnyPool, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, remote) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(entry.remote.as_deref())
    .execute(pool)
    .await?;
    Ok(())
}

/// A page of the audit trail, newest first, and how many entries there are in all.
pub(super) async fn audit(
    pool: &AnyPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditEntry>, i64), StoreError> {
    let rows = sqlx::query(
        "SELECT at, actor, action, target, remote FROM audit_log \
         ORDER BY id DESC LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(pool)
        .await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                remote: r.try_get("remote")?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((entries, total))
}
