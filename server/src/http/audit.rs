//! `GET /api/v1/audit`: the admin actions taken, newest first, paged (`limit`, `offset`).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::events::page;
use super::marquez::Paging;
use super::{ApiError, AppState};
use crate::model::time::iso;

pub async fn list(
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let (entries, total) = state.store.audit(limit, offset).await?;
    let entries: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "at": iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "remote": e.remote,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"entries": entries, "totalCount": total})))
}
