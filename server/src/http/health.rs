//! `/healthz` (the process answers) and `/readyz` (the database answers within a bound, and
//! whether the lineage graph is in step with the store).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::AppState;
use crate::lineage::GraphHealth;
use crate::model::time::from_micros;

/// The longest `/readyz` waits for the database.
const PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// `GET /metrics`: Prometheus' text format; the graph's gauges are read as the scrape comes.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let m = crate::metrics::metrics();
    let (nodes, edges) = state.lineage.read().size();
    m.graph_nodes.set(nodes as i64);
    m.graph_edges.set(edges as i64);
    m.graph_behind
        .set(i64::from(state.lineage.health() != GraphHealth::InStep));
    let (held, bytes) = state.lineage.node_data().size();
    m.node_data_nodes.set(held as i64);
    m.node_data_bytes.set(bytes as i64);
    m.node_data_warming
        .set(i64::from(state.lineage.node_data().warming()));
    for pool in state.store.pools() {
        let in_use = pool.open.saturating_sub(pool.idle);
        m.db_connections
            .with_label_values(&[pool.name, "idle"])
            .set(pool.idle as i64);
        m.db_connections
            .with_label_values(&[pool.name, "in_use"])
            .set(in_use as i64);
        m.db_connections_max
            .with_label_values(&[pool.name])
            .set(pool.max as i64);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render())
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `200` with `status` `ready`, or `degraded` while the graph is catching up with commits it
/// could not read back (answers may miss them meanwhile); `503` when the database does not
/// answer.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.store.backend().name();
    let health = state.lineage.health();
    let in_step = health == GraphHealth::InStep;
    let graph: Value = match health {
        GraphHealth::InStep => json!({"inStep": true}),
        GraphHealth::Behind {
            since,
            jobs,
            datasets,
            resync,
        } => json!({
            "inStep": false, "behindSince": from_micros(since).to_rfc3339(),
            "pendingJobs": jobs, "pendingDatasets": datasets, "reloading": resync,
        }),
    };
    let detail = match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database ping failed");
            Some("the database does not answer")
        }
        Err(_) => Some("the database did not answer within 1.5 s"),
    };
    // The Kafka consumer's state is reported, but does not take HTTP out of service.
    let kafka = crate::kafka::status();
    let cache = state.lineage.node_data();
    let (held, bytes) = cache.size();
    let node_data = json!({"nodes": held, "bytes": bytes, "warming": cache.warming()});
    let mut answer = match detail {
        None => json!({
            "status": if in_step { "ready" } else { "degraded" },
            "database": backend,
            "graph": graph,
            "nodeData": node_data,
        }),
        Some(detail) => json!({
            "status": "unavailable", "database": backend, "detail": detail, "graph": graph,
            "nodeData": node_data,
        }),
    };
    if let Some(k) = kafka {
        answer["kafka"] = json!(k);
    }
    match detail {
        None => HttpResponse::Ok().json(answer),
        Some(_) => super::error::answer(StatusCode::SERVICE_UNAVAILABLE).json(answer),
    }
}
