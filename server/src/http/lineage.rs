//! `GET /api/v1/lineage?nodeId=&depth=`: the lineage graph around a node in Marquez's shape
//! (`{graph: [{id, type, data, inEdges, outEdges}]}`), answered from the in-memory index. Beyond
//! Marquez: `direction` (UPSTREAM, DOWNSTREAM, BOTH) and `asOf` (the graph at a past time).
//! Each node's `data` is Marquez's: a dataset as `GET …/datasets/{name}` answers it, a job as
//! `GET …/jobs/{name}` does (with `latestRun`), read in a few batched queries. With `asOf` the
//! shape of the graph is the past one; the `data` is what is known now.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
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

/// An edge of the answer; ids are shared by the two nodes that list it.
#[derive(Serialize, Clone)]
struct EdgeOut {
    origin: Arc<str>,
    destination: Arc<str>,
}

/// A node of the answer as the graph knows it, with its edges.
struct GraphNode {
    key: crate::graph::NodeKey,
    id: Arc<str>,
    dataset_type: Option<String>,
    deleted: bool,
    in_edges: Vec<EdgeOut>,
    out_edges: Vec<EdgeOut>,
}

/// A node's `data`: the dataset or job as its own endpoint answers it, or, when the store no
/// longer has it, what the graph knows.
#[derive(Serialize)]
#[serde(untagged)]
enum NodeData<'a> {
    Dataset(Box<shapes::DatasetShape<'a>>),
    Job(Box<shapes::JobShape<'a>>),
    Known(Value),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeOut<'a> {
    id: Arc<str>,
    #[serde(rename = "type")]
    kind: &'static str,
    data: NodeData<'a>,
    in_edges: Vec<EdgeOut>,
    out_edges: Vec<EdgeOut>,
}

#[derive(Serialize)]
struct Answer<'a> {
    graph: Vec<NodeOut<'a>>,
    truncated: bool,
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
        // Each node's id is formatted once and shared by every edge that names it.
        let ids: HashMap<_, Arc<str>> = g
            .nodes
            .iter()
            .map(|n| (*n, Arc::from(index.node(*n).key.id())))
            .collect();
        let id_of = |n| {
            ids.get(&n)
                .cloned()
                .unwrap_or_else(|| Arc::from(index.node(n).key.id()))
        };
        let mut in_edges: HashMap<_, Vec<EdgeOut>> = HashMap::new();
        let mut out_edges: HashMap<_, Vec<EdgeOut>> = HashMap::new();
        for (a, b) in &g.edges {
            let edge = EdgeOut {
                origin: id_of(*a),
                destination: id_of(*b),
            };
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
                    id: id_of(*n),
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
    let dataset_data: HashMap<(&str, &str), &crate::store::Dataset> = datasets
        .iter()
        .map(|d| ((d.namespace.as_str(), d.name.as_str()), d))
        .collect();
    let job_data: HashMap<(&str, &str), &crate::store::JobSummary> = jobs
        .iter()
        .map(|s| ((s.job.namespace.as_str(), s.job.name.as_str()), s))
        .collect();
    let graph: Vec<NodeOut<'_>> = nodes
        .into_iter()
        .map(|node| {
            let GraphNode {
                key,
                id,
                dataset_type,
                deleted,
                in_edges,
                out_edges,
            } = node;
            let name = (&*key.namespace, &*key.name);
            let (kind, found) = match key.kind {
                NodeKind::Dataset => (
                    "DATASET",
                    dataset_data.get(&name).map(|d| {
                        NodeData::Dataset(Box::new(shapes::DatasetShape::of(d, tags.get(&d.id))))
                    }),
                ),
                NodeKind::Job => (
                    "JOB",
                    job_data
                        .get(&name)
                        .map(|s| NodeData::Job(Box::new(shapes::JobShape::of(s, None)))),
                ),
            };
            let data = found.unwrap_or_else(|| {
                // Not in the store (it went since the graph was read): what the graph knows.
                let ty = match key.kind {
                    NodeKind::Dataset => dataset_type.unwrap_or_else(|| "DB_TABLE".into()),
                    NodeKind::Job => "BATCH".into(),
                };
                NodeData::Known(json!({
                    "id": {"namespace": &*key.namespace, "name": &*key.name},
                    "namespace": &*key.namespace,
                    "name": &*key.name,
                    "type": ty,
                    "deleted": deleted,
                }))
            });
            NodeOut {
                id,
                kind,
                data,
                in_edges,
                out_edges,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(Answer { graph, truncated }))
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
