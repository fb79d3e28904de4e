//! `GET /api/v1/lineage?nodeId=&depth=`: the lineage graph around a node in Marquez's shape
//! (`{graph: [{id, type, data, inEdges, outEdges}]}`), answered from the in-memory index. Beyond
//! Marquez: `direction` (UPSTREAM, DOWNSTREAM, BOTH) and `asOf` (the graph at a past time).
//! Each node's `data` is Marquez's: a dataset as `GET …/datasets/{name}` answers it, a job as
//! `GET …/jobs/{name}` does (with `latestRun`), read in a few batched queries. With `asOf` the
//! shape of the graph is the past one; the `data` is what is known now.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{shapes, ApiError, AppState};
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

/// A node of the answer as the graph knows it, with its edges.
struct GraphNode {
    key: crate::graph::NodeKey,
    dataset_type: Option<String>,
    deleted: bool,
    in_edges: Vec<Value>,
    out_edges: Vec<Value>,
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
    let (nodes, truncated) = {
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
        // What the graph knows, then the guard is dropped before the store is asked for details.
        let nodes: Vec<GraphNode> = g
            .nodes
            .iter()
            .map(|n| {
                let data = index.node(*n);
                GraphNode {
                    key: data.key.clone(),
                    dataset_type: data.dataset_type.as_deref().map(str::to_string),
                    deleted: data.deleted_at.is_some(),
                    in_edges: in_edges.remove(n).unwrap_or_default(),
                    out_edges: out_edges.remove(n).unwrap_or_default(),
                }
            })
            .collect();
        (nodes, g.truncated)
    };
    let names = |kind: NodeKind| -> Vec<(String, String)> {
        nodes
            .iter()
            .filter(|n| n.key.kind == kind)
            .map(|n| (n.key.namespace.to_string(), n.key.name.to_string()))
            .collect()
    };
    let (datasets, jobs) = state
        .store
        .node_details(&names(NodeKind::Dataset), &names(NodeKind::Job))
        .await?;
    let ids: Vec<String> = datasets.iter().map(|d| d.id.clone()).collect();
    let tags = state.store.dataset_tags(&ids).await?;
    let mut dataset_data: HashMap<(String, String), Value> = datasets
        .iter()
        .map(|d| {
            (
                (d.namespace.clone(), d.name.clone()),
                shapes::dataset_json(d, tags.get(&d.id)),
            )
        })
        .collect();
    let mut job_data: HashMap<(String, String), Value> = jobs
        .iter()
        .map(|s| {
            (
                (s.job.namespace.clone(), s.job.name.clone()),
                shapes::job_json(s, None),
            )
        })
        .collect();
    let graph: Vec<Value> = nodes
        .into_iter()
        .map(|node| {
            let GraphNode {
                key,
                dataset_type,
                deleted,
                in_edges: ins,
                out_edges: outs,
            } = node;
            let name = (key.namespace.to_string(), key.name.to_string());
            let (kind, found) = match key.kind {
                NodeKind::Dataset => ("DATASET", dataset_data.remove(&name)),
                NodeKind::Job => ("JOB", job_data.remove(&name)),
            };
            let data = found.unwrap_or_else(|| {
                // Not in the store (it went since the graph was read): what the graph knows.
                let ty = match key.kind {
                    NodeKind::Dataset => dataset_type.unwrap_or_else(|| "DB_TABLE".into()),
                    NodeKind::Job => "BATCH".into(),
                };
                json!({
                    "id": {"namespace": &*key.namespace, "name": &*key.name},
                    "namespace": &*key.namespace,
                    "name": &*key.name,
                    "type": ty,
                    "deleted": deleted,
                })
            });
            json!({
                "id": key.id(),
                "type": kind,
                "data": data,
                "inEdges": ins,
                "outEdges": outs,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"graph": graph, "truncated": truncated})))
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
