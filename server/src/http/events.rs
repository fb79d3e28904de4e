//! `GET /api/v1/events/lineage`: the raw event log, as Marquez answers it.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::model::time::{now_micros, parse_event_time, to_micros, Micros};
use crate::store::{EventQuery, SortDirection};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    before: Option<String>,
    after: Option<String>,
    sort_direction: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn time_param(name: &str, v: Option<&str>, default: Micros) -> Result<Micros, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => parse_event_time(s).map(to_micros).ok_or_else(|| {
            ApiError::bad(
                &format!("/{name}"),
                format!("'{s}' is not an ISO 8601 date-time"),
            )
        }),
    }
}

pub(super) fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(100);
    let offset = offset.unwrap_or(0);
    if limit < 0 {
        return Err(ApiError::bad("/limit", "must be zero or more"));
    }
    if offset < 0 {
        return Err(ApiError::bad("/offset", "must be zero or more"));
    }
    Ok((limit.min(10_000), offset))
}

pub async fn list(
    params: web::Query<Params>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(params.limit, params.offset)?;
    let direction = match params
        .sort_direction
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => SortDirection::Desc,
        Some("asc") => SortDirection::Asc,
        Some(other) => {
            return Err(ApiError::bad(
                "/sortDirection",
                format!("'{other}' is not asc or desc"),
            ))
        }
    };
    let query = EventQuery {
        before: time_param("before", params.before.as_deref(), now_micros())?,
        after: time_param("after", params.after.as_deref(), Micros::MIN)?,
        direction,
        limit,
        offset,
    };
    let page = state.store.list_events(&query).await?;
    Ok(HttpResponse::Ok().json(json!({ "events": page.events, "totalCount": page.total_count })))
}
