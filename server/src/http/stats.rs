//! `GET /api/v1/stats/{lineage-events|jobs|datasets|sources}?period=DAY|WEEK&timezone=`, in
//! Marquez's shapes: hourly buckets for the last day, daily buckets for the last week, the last
//! one holding now. Lineage events are counted by type; jobs, datasets and sources cumulatively.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::model::time::{iso, now_micros, Micros};
use crate::store::StatsKind;

const HOUR: Micros = 3_600_000_000;
const DAY: Micros = 24 * HOUR;

#[derive(Deserialize)]
pub struct Params {
    period: Option<String>,
    timezone: Option<String>,
}

/// The offset of a time zone given as `UTC`, `Z`, `+HH:MM` or `-HH:MM`, in microseconds.
fn offset(tz: Option<&str>) -> Result<Micros, ApiError> {
    let Some(tz) = tz.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    if matches!(
        tz.to_ascii_uppercase().as_str(),
        "UTC" | "Z" | "GMT" | "ETC/UTC"
    ) {
        return Ok(0);
    }
    let bad = || {
        ApiError::bad(
            "/timezone",
            format!("'{tz}' is not supported: use UTC or an offset like +02:00"),
        )
    };
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * HOUR + m * 60_000_000))
}

pub async fn stats(
    path: web::Path<String>,
    q: web::Query<Params>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let kind = match path.as_str() {
        "lineage-events" => StatsKind::LineageEvents,
        "jobs" => StatsKind::Jobs,
        "datasets" => StatsKind::Datasets,
        "sources" => StatsKind::Sources,
        other => {
            return Err(ApiError::NotFound(format!(
                "no stats for '{other}': use lineage-events, jobs, datasets or sources"
            )))
        }
    };
    let (width, buckets) = match q.period.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("DAY") => (HOUR, 24),
        Some("WEEK") => (DAY, 7),
        Some(other) => {
            return Err(ApiError::bad(
                "/period",
                format!("'{other}' is not DAY or WEEK"),
            ))
        }
    };
    let offset = offset(q.timezone.as_deref())?;
    // Buckets align to local hours or local midnights; the last one holds now.
    let now = now_micros();
    let current = (now + offset).div_euclid(width) * width - offset;
    let start = current - width * (buckets - 1);
    let rows = state.store.stats(kind, start, width, buckets).await?;
    let mut counts: Vec<std::collections::BTreeMap<String, i64>> =
        vec![Default::default(); buckets as usize];
    let mut before = 0;
    for (bucket, key, n) in rows {
        if bucket < 0 {
            before += n;
        } else if let Some(c) = counts.get_mut(bucket as usize) {
            *c.entry(key).or_default() += n;
        }
    }
    let mut running = before;
    let out: Vec<Value> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let s = start + width * i as i64;
            let interval = json!({"startInterval": iso(s), "endInterval": iso(s + width)});
            let mut v = interval;
            if kind == StatsKind::LineageEvents {
                for (field, key) in [
                    ("start", "START"),
                    ("complete", "COMPLETE"),
                    ("fail", "FAIL"),
                    ("abort", "ABORT"),
                    ("running", "RUNNING"),
                    ("other", "OTHER"),
                ] {
                    v[field] = json!(c.get(key).copied().unwrap_or(0));
                }
            } else {
                running += c.values().sum::<i64>();
                v["count"] = json!(running);
            }
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_utc_or_fixed_offsets() {
        assert_eq!(offset(None).unwrap(), 0);
        assert_eq!(offset(Some("UTC")).unwrap(), 0);
        assert_eq!(offset(Some("+02:00")).unwrap(), 2 * HOUR);
        assert_eq!(
            offset(Some("-05:30")).unwrap(),
            -(5 * HOUR + 30 * 60_000_000)
        );
        assert!(offset(Some("Mars/Olympus")).is_err());
    }
}
