//! `GET /api/v1/column-lineage?nodeId=&depth=&withDownstream=`: field-level lineage in Marquez's
//! shape, from the `columnLineage` facets of dataset versions (those current at `asOf`, now by
//! default). `nodeId` is a dataset (all its fields) or `datasetField:{namespace}:{dataset}:{field}`.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::model::{NodeId, NodeIdKind};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    node_id: Option<String>,
    depth: Option<u32>,
    with_downstream: Option<bool>,
    as_of: Option<String>,
}

pub async fn column_lineage(
    q: web::Query<Params>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = q
        .node_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad("/nodeId", "nodeId is required (dataset:{namespace}:{name} or datasetField:{namespace}:{dataset}:{field})"))?;
    let as_of = super::lineage::as_of_param(&q.as_of)?;
    let index = state.lineage.read_settled().await;
    let node = NodeId::parse(id).map_err(|e| ApiError::bad("/nodeId", e.to_string()))?;
    let not_found = || ApiError::NotFound(format!("node '{id}' not found"));
    let starts = match node.kind() {
        NodeIdKind::DatasetField => {
            let n = index.resolve_id(&node).ok_or_else(not_found)?;
            let field = node.field().expect("a datasetField id has a field");
            vec![(n, field.to_string())]
        }
        NodeIdKind::Dataset => {
            let n = index.resolve_id(&node).ok_or_else(not_found)?;
            index.column_fields(n).into_iter().map(|f| (n, f)).collect()
        }
        NodeIdKind::Job | NodeIdKind::Run => {
            return Err(ApiError::bad(
                "/nodeId",
                format!("'{id}' is not a dataset or datasetField node id"),
            ))
        }
    };
    let (edges, truncated) = index.column_lineage(
        &starts,
        q.depth.unwrap_or(20),
        q.with_downstream.unwrap_or(false),
        as_of,
        super::lineage::MAX_NODES,
    );
    let field_id = |(n, f): &(petgraph::stable_graph::NodeIndex, String)| {
        let k = &index.node(*n).key;
        NodeId::dataset_field(&k.namespace, &k.name, f)
    };
    let mut nodes: BTreeMap<String, (Value, Vec<Value>, Vec<Value>)> = BTreeMap::new();
    let mut node = |field: &(petgraph::stable_graph::NodeIndex, String)| {
        let k = &index.node(field.0).key;
        let data = json!({"namespace": &*k.namespace, "dataset": &*k.name, "field": field.1});
        nodes
            .entry(field_id(field))
            .or_insert_with(|| (data, Vec::new(), Vec::new()));
    };
    for s in &starts {
        node(s);
    }
    for (a, b) in &edges {
        node(a);
        node(b);
    }
    for (a, b) in &edges {
        let edge = json!({"origin": field_id(a), "destination": field_id(b)});
        nodes
            .get_mut(&field_id(a))
            .expect("added")
            .2
            .push(edge.clone());
        nodes.get_mut(&field_id(b)).expect("added").1.push(edge);
    }
    let graph: Vec<Value> = nodes
        .into_iter()
        .map(|(id, (data, in_edges, out_edges))| json!({"id": id, "type": "DATASET_FIELD", "data": data, "inEdges": in_edges, "outEdges": out_edges}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"graph": graph, "truncated": truncated})))
}
