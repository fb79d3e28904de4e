//! `GET /api/v1/lineage?nodeId=&depth=`: the lineage graph around a node in Marquez's shape
//! (`{graph: [{id, type, data, inEdges, outEdges}]}`), answered from the in-memory index. Beyond
//! Marquez: `direction` (UPSTREAM, DOWNSTREAM, BOTH) and `asOf` (the graph at a past time).

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::graph::{Direction, NodeKind, TraverseOptions};
use crate::model::time::{parse_event_time, to_micros};

/// The most nodes one answer holds; past it the answer says `truncated`.
pub const MAX_NODES: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    node_id: Option<String>,
    depth: Option<u32>,
    direction: Option<String>,
    as_of: Option<String>,
}

pub async fn lineage(
    q: web::Query<Params>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = q
        .node_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad(
                "/nodeId",
                "nodeId is required (dataset:{namespace}:{name} or job:{namespace}:{name})",
            )
        })?;
    let direction = match q
        .direction
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("BOTH") => Direction::Both,
        Some("UPSTREAM") => Direction::Upstream,
        Some("DOWNSTREAM") => Direction::Downstream,
        Some(other) => {
            return Err(ApiError::bad(
                "/direction",
                format!("'{other}' is not UPSTREAM, DOWNSTREAM or BOTH"),
            ))
        }
    };
    let as_of = as_of_param(&q.as_of)?;
    let depth = q.depth.unwrap_or(20);
    let index = state.lineage.read();
    let start = index
        .resolve(id)
        .ok_or_else(|| ApiError::NotFound(format!("node '{id}' not found")))?;
    let g = index.lineage(
        start,
        TraverseOptions {
            direction,
            depth,
            as_of,
            max_nodes: MAX_NODES,
        },
    );
    let mut in_edges: HashMap<_, Vec<Value>> = HashMap::new();
    let mut out_edges: HashMap<_, Vec<Value>> = HashMap::new();
    for (a, b) in &g.edges {
        let edge =
            json!({"origin": index.node(*a).key.id(), "destination": index.node(*b).key.id()});
        out_edges.entry(*a).or_default().push(edge.clone());
        in_edges.entry(*b).or_default().push(edge);
    }
    let graph: Vec<Value> = g
        .nodes
        .iter()
        .map(|n| {
            let data = index.node(*n);
            let (kind, ty) = match data.key.kind {
                NodeKind::Dataset => (
                    "DATASET",
                    data.dataset_type
                        .as_deref()
                        .unwrap_or("DB_TABLE")
                        .to_string(),
                ),
                NodeKind::Job => ("JOB", "BATCH".to_string()),
            };
            json!({
                "id": data.key.id(),
                "type": kind,
                "data": {
                    "id": {"namespace": &*data.key.namespace, "name": &*data.key.name},
                    "namespace": &*data.key.namespace,
                    "name": &*data.key.name,
                    "type": ty,
                    "deleted": data.deleted_at.is_some(),
                },
                "inEdges": in_edges.remove(n).unwrap_or_default(),
                "outEdges": out_edges.remove(n).unwrap_or_default(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"graph": graph, "truncated": g.truncated})))
}

/// The `asOf` parameter: an ISO 8601 date-time, as microseconds.
pub fn as_of_param(v: &Option<String>) -> Result<Option<crate::model::time::Micros>, ApiError> {
    match v {
        None => Ok(None),
        Some(t) => Ok(Some(to_micros(parse_event_time(t).ok_or_else(|| {
            ApiError::bad("/asOf", format!("'{t}' is not an ISO 8601 date-time"))
        })?))),
    }
}
