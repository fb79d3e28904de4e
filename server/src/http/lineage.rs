//! `GET /api/v1/lineage?nodeId=&depth=`: the lineage graph around a node in Marquez's shape
//! (`{graph: [{id, type, data, inEdges, outEdges}]}`), answered from the in-memory index. Beyond
//! Marquez: `direction` (UPSTREAM, DOWNSTREAM, BOTH) and `asOf` (the graph at a past time).
//! Each node's `data` is Marquez's: a dataset as `GET …/datasets/{name}` answers it, a job as
//! `GET …/jobs/{name}` does (with `latestRun`): rendered once and kept in memory (see
//! `node_data`), read from the store in a few batched queries where it is not. With `asOf` the
//! shape of the graph is the past one; the `data` is what is known now.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{shapes, ApiError, AppState};
use petgraph::stable_graph::NodeIndex;

use crate::graph::{Direction, NodeKey, NodeKind, TraverseOptions};
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

/// A node of the answer as the graph knows it.
struct GraphNode {
    key: crate::graph::NodeKey,
    dataset_type: Option<String>,
    deleted: bool,
}

impl GraphNode {
    fn of(index: &crate::graph::LineageIndex, n: NodeIndex) -> Self {
        let data = index.node(n);
        GraphNode {
            key: data.key.clone(),
            dataset_type: data.dataset_type.as_deref().map(str::to_string),
            deleted: data.deleted_at.is_some(),
        }
    }
}

/// The answer's shape, read under the graph's lock: its nodes, every node id as a JSON string
/// (the nodes' first, then those of edge ends outside the answer), and its edges as positions in
/// that list.
struct Shape {
    nodes: Vec<GraphNode>,
    ids: Vec<Vec<u8>>,
    edges: Vec<(u32, u32)>,
    truncated: bool,
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
    let shape = {
        let index = state.lineage.read_settled().await;
        let start = index
            .resolve(id)
            .ok_or_else(|| ApiError::NotFound(format!("node '{id}' not found")))?;
        let mut g = index.lineage(
            start,
            TraverseOptions {
                direction,
                depth,
                as_of,
                max_nodes: MAX_NODES,
            },
        );
        // The same answer from every server, whatever order its graph took the changes in:
        // nodes by id, then the edges' other ends by id, edges by their ends' places.
        let by_key = |a: &NodeIndex, b: &NodeIndex| index.node(*a).key.cmp(&index.node(*b).key);
        g.nodes.sort_unstable_by(by_key);
        let mut at: foldhash::HashMap<NodeIndex, u32> = g
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, i as u32))
            .collect();
        let mut outside: Vec<NodeIndex> = g
            .edges
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .filter(|n| !at.contains_key(n))
            .collect();
        outside.sort_unstable_by(by_key);
        outside.dedup();
        let json_id = |n: NodeIndex| index.json_id(n).to_vec();
        let mut ids: Vec<Vec<u8>> = g.nodes.iter().map(|n| json_id(*n)).collect();
        for n in outside {
            at.insert(n, ids.len() as u32);
            ids.push(json_id(n));
        }
        let mut edges: Vec<(u32, u32)> = g.edges.iter().map(|(a, b)| (at[a], at[b])).collect();
        edges.sort_unstable();
        // What the graph knows, then the guard is dropped before the store is asked for details.
        let nodes: Vec<GraphNode> = g.nodes.iter().map(|n| GraphNode::of(&index, *n)).collect();
        Shape {
            nodes,
            ids,
            edges,
            truncated: g.truncated,
        }
    };
    let data = node_data(&state, &shape.nodes).await?;
    let chunks = write_answer(&shape, &data);
    let len: usize = chunks.iter().map(Vec::len).sum();
    let body = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(c))),
    );
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(actix_web::body::SizedStream::new(len as u64, body)))
}

/// The size an answer's pieces are cut at. One buffer for a whole answer of 10,000 nodes (19 MB)
/// is an allocation jemalloc serves from its arena for oversize requests, which gives the pages
/// back to the kernel as soon as it is freed: every such answer faulted all of its pages in
/// again, 40 % of the server's time for it. Pieces of about a mebibyte are reused instead.
const CHUNK: usize = 1 << 20;

/// Writes `{"graph": [{id, type, data, inEdges, outEdges}], "truncated"}` in one pass into
/// buffers sized up front, cut after the node that fills one to [`CHUNK`]: node data is copied
/// as rendered, ids were escaped once, and each node's edges are found through an index of the
/// edge list (no list per node).
fn write_answer(shape: &Shape, data: &[Arc<RawValue>]) -> Vec<Vec<u8>> {
    let n = shape.nodes.len();
    // The edges leaving (and entering) node i are out[out_at[i]..out_at[i + 1]] (in likewise).
    let by = |end: fn(&(u32, u32)) -> u32| {
        let mut at = vec![0usize; n + 1];
        for e in &shape.edges {
            let i = end(e) as usize;
            if i < n {
                at[i + 1] += 1;
            }
        }
        for i in 0..n {
            at[i + 1] += at[i];
        }
        let mut next = at.clone();
        let mut list = vec![0u32; at[n]];
        for (k, e) in shape.edges.iter().enumerate() {
            let i = end(e) as usize;
            if i < n {
                list[next[i]] = k as u32;
                next[i] += 1;
            }
        }
        (at, list)
    };
    let (out_at, out) = by(|e| e.0);
    let (in_at, into) = by(|e| e.1);
    let id = |i: u32| shape.ids[i as usize].as_slice();
    let edge_bytes = |k: u32| {
        let (a, b) = shape.edges[k as usize];
        id(a).len() + id(b).len() + 30
    };
    let capacity = data.iter().map(|d| d.get().len()).sum::<usize>()
        + shape.ids.iter().map(Vec::len).sum::<usize>()
        + out
            .iter()
            .chain(&into)
            .map(|k| edge_bytes(*k))
            .sum::<usize>()
        + n * 64
        + 32;
    let piece = |left: usize| Vec::with_capacity(left.min(CHUNK + CHUNK / 4));
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut written = 0;
    let mut body = piece(capacity);
    let edges = |body: &mut Vec<u8>, list: &[u32]| {
        body.push(b'[');
        for (j, k) in list.iter().enumerate() {
            if j > 0 {
                body.push(b',');
            }
            let (a, b) = shape.edges[*k as usize];
            body.extend_from_slice(b"{\"origin\":");
            body.extend_from_slice(id(a));
            body.extend_from_slice(b",\"destination\":");
            body.extend_from_slice(id(b));
            body.push(b'}');
        }
        body.push(b']');
    };
    body.extend_from_slice(b"{\"graph\":[");
    for (i, node) in shape.nodes.iter().enumerate() {
        if body.len() >= CHUNK {
            written += body.len();
            let next = piece(capacity.saturating_sub(written));
            chunks.push(std::mem::replace(&mut body, next));
        }
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"id\":");
        body.extend_from_slice(id(i as u32));
        body.extend_from_slice(match node.key.kind {
            NodeKind::Dataset => b",\"type\":\"DATASET\",\"data\":",
            NodeKind::Job => b",\"type\":\"JOB\",\"data\":",
        });
        body.extend_from_slice(data[i].get().as_bytes());
        body.extend_from_slice(b",\"inEdges\":");
        edges(&mut body, &into[in_at[i]..in_at[i + 1]]);
        body.extend_from_slice(b",\"outEdges\":");
        edges(&mut body, &out[out_at[i]..out_at[i + 1]]);
        body.push(b'}');
    }
    body.extend_from_slice(if shape.truncated {
        b"],\"truncated\":true}"
    } else {
        b"],\"truncated\":false}"
    });
    chunks.push(body);
    chunks
}

/// Each node's `data`, in the nodes' order: from the server's rendered node data where it has
/// it, the rest read from the store in a few batched queries, rendered and offered back.
async fn node_data(state: &AppState, nodes: &[GraphNode]) -> Result<Vec<Arc<RawValue>>, ApiError> {
    let cache = state.lineage.node_data();
    let mut data = cache.get_many(nodes.iter().map(|n| &n.key));
    let missing: Vec<&GraphNode> = nodes
        .iter()
        .zip(&data)
        .filter(|(_, d)| d.is_none())
        .map(|(n, _)| n)
        .collect();
    let lookups = &crate::metrics::metrics().node_data_lookups;
    lookups
        .with_label_values(&["hit"])
        .inc_by((nodes.len() - missing.len()) as u64);
    lookups
        .with_label_values(&["miss"])
        .inc_by(missing.len() as u64);
    if missing.is_empty() {
        return Ok(data.into_iter().flatten().collect());
    }
    let mut rendered = render_node_data(state, &missing).await?;
    for (slot, node) in data.iter_mut().zip(nodes) {
        if slot.is_some() {
            continue;
        }
        *slot = Some(match rendered.remove(&node.key) {
            Some(d) => d,
            // Not in the store (it went since the graph was read): what the graph knows.
            None => {
                let key = &node.key;
                let ty = match key.kind {
                    NodeKind::Dataset => node.dataset_type.as_deref().unwrap_or("DB_TABLE"),
                    NodeKind::Job => "BATCH",
                };
                render(&NodeData::Known(json!({
                    "id": {"namespace": &*key.namespace, "name": &*key.name},
                    "namespace": &*key.namespace,
                    "name": &*key.name,
                    "type": ty,
                    "deleted": node.deleted,
                })))
            }
        });
    }
    Ok(data.into_iter().flatten().collect())
}

fn render(d: &NodeData<'_>) -> Arc<RawValue> {
    Arc::from(serde_json::value::to_raw_value(d).expect("node data serialises"))
}

/// Reads these nodes from the store, renders each one's data and offers it to the cache.
async fn render_node_data(
    state: &AppState,
    missing: &[&GraphNode],
) -> Result<HashMap<NodeKey, Arc<RawValue>>, ApiError> {
    let cache = state.lineage.node_data();
    // Begun before the store is read: what a commit changes meanwhile is not kept.
    let fill = cache.begin_fill();
    let names = |kind: NodeKind| -> Vec<(String, String)> {
        missing
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
    let rendered: HashMap<NodeKey, Arc<RawValue>> = datasets
        .iter()
        .map(|d| {
            let shape = shapes::DatasetShape::of(d, tags.get(&d.id));
            (
                NodeKey::dataset(&d.namespace, &d.name),
                render(&NodeData::Dataset(Box::new(shape))),
            )
        })
        .chain(jobs.iter().map(|s| {
            let shape = shapes::JobShape::of(s, None);
            (
                NodeKey::job(&s.job.namespace, &s.job.name),
                render(&NodeData::Job(Box::new(shape))),
            )
        }))
        .collect();
    fill.offer(rendered.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(rendered)
}

/// Nodes rendered at a time while warming.
const WARM_CHUNK: usize = 1_000;

/// After a start, renders every node's data into the cache, the most connected nodes first,
/// until the cache is three quarters full: so that the first lineage answers after a restart
/// copy rendered bytes as every later one does, instead of reading thousands of rows. Each
/// chunk waits for a read permit like any REST read, so warming takes no more than one read's
/// share of the server; what commits change meanwhile is forgotten as usual.
pub fn warm_node_data(state: Arc<AppState>) {
    state.lineage.node_data().set_warming(true);
    tokio::spawn(async move {
        warm(&state).await;
        state.lineage.node_data().set_warming(false);
    });
}

async fn warm(state: &AppState) {
    let started = std::time::Instant::now();
    let nodes: Vec<GraphNode> = {
        let index = state.lineage.read();
        index
            .nodes_by_degree()
            .into_iter()
            .map(|n| GraphNode::of(&index, n))
            .collect()
    };
    let cache = state.lineage.node_data();
    let mut warmed = 0;
    for chunk in nodes.chunks(WARM_CHUNK) {
        if cache.nearly_full() {
            break;
        }
        let missing: Vec<&GraphNode> = chunk.iter().filter(|n| !cache.holds(&n.key)).collect();
        if missing.is_empty() {
            continue;
        }
        let Ok(_permit) = state.read_permits.acquire().await else {
            return;
        };
        if let Err(e) = render_node_data(state, &missing).await {
            tracing::warn!(error = %e, "warming the lineage node data stopped");
            return;
        }
        warmed += missing.len();
    }
    tracing::info!(
        nodes = warmed,
        seconds = started.elapsed().as_secs_f64(),
        "lineage node data warmed"
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer of several pieces is, put together, the one document: every node once, in
    /// order, with its edges, the cuts only between nodes.
    #[test]
    fn an_answer_cut_in_pieces_is_one_document() {
        let n = 3_000;
        let nodes: Vec<GraphNode> = (0..n)
            .map(|i| GraphNode {
                key: crate::graph::NodeKey::dataset("ns", &format!("t{i}")),
                dataset_type: None,
                deleted: false,
            })
            .collect();
        let ids: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("\"dataset:ns:t{i}\"").into_bytes())
            .collect();
        let edges: Vec<(u32, u32)> = (1..n as u32).map(|i| (i - 1, i)).collect();
        let shape = Shape {
            nodes,
            ids,
            edges,
            truncated: false,
        };
        // About 1 KB of data a node: three pieces or more.
        let filler = "x".repeat(1000);
        let data: Vec<Arc<RawValue>> = (0..n)
            .map(|i| {
                Arc::from(
                    RawValue::from_string(format!("{{\"name\":\"t{i}\",\"f\":\"{filler}\"}}"))
                        .unwrap(),
                )
            })
            .collect();
        let chunks = write_answer(&shape, &data);
        assert!(chunks.len() >= 3, "{} pieces", chunks.len());
        assert!(chunks.iter().all(|c| c.len() < CHUNK + 4096));
        let whole: Vec<u8> = chunks.concat();
        let doc: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        let graph = doc["graph"].as_array().unwrap();
        assert_eq!(graph.len(), n);
        for (i, node) in graph.iter().enumerate() {
            assert_eq!(node["id"], format!("dataset:ns:t{i}"));
            assert_eq!(node["data"]["name"], format!("t{i}"));
            let ins = node["inEdges"].as_array().unwrap().len();
            let outs = node["outEdges"].as_array().unwrap().len();
            assert_eq!((ins, outs), (usize::from(i > 0), usize::from(i + 1 < n)));
        }
        assert_eq!(doc["truncated"], false);
    }
}
