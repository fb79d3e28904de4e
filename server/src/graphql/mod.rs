//! GraphQL at `POST /api/v1/graphql` (GraphiQL at `/graphiql`): thin resolvers over the lineage
//! graph. The SDL is checked in at `schema/lineage.graphql`; the names are a contract.

use std::sync::Arc;

mod catalog;
pub mod guard;
mod plain;

use async_graphql::parser::types::SelectionSet;
use async_graphql::{
    Context, EmptySubscription, Enum, ErrorExtensions, MergedObject, Object, Schema, SimpleObject,
    ID,
};

pub use catalog::{CatalogQuery, Mutation};
use chrono::{DateTime, Utc};
use petgraph::stable_graph::NodeIndex;
pub use plain::RawParts;
use plain::{Plain, PlainObject, Plan, WriteFields};

use crate::graph::{
    Direction as GraphDirection, ImpactResult, LineageIndex, NodeKind as GraphNodeKind,
    TraverseOptions,
};
use crate::json;
use crate::lineage::Lineage;
use crate::model::time::to_micros;

/// The most nodes one answer holds; past it the answer says `truncated`.
pub const MAX_NODES: usize = 10_000;
/// Query depth and complexity limits: a request past them is refused with a `code` extension.
/// The depth fits GraphiQL's introspection query (14 levels: `__schema types fields args type`
/// and nine `ofType`); what a query costs is bounded by `graphql::guard` (fields, walks, time).
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 5_000;

/// The schema type.
pub type LineageSchema = Schema<Query, Mutation, EmptySubscription>;

/// The root query: lineage, catalog and reproducibility.
#[derive(MergedObject, Default)]
pub struct Query(LineageQuery, CatalogQuery);

/// Builds the schema once; resolvers read the graph from its data.
pub fn schema(lineage: Option<Arc<Lineage>>) -> LineageSchema {
    let mut b = Schema::build(Query::default(), Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    if let Some(l) = lineage {
        b = b.data(l);
    }
    b.finish()
}

/// Replaces the text of store failures in a response (database messages, which may quote SQL)
/// with "internal error" and an id that the log has with the whole cause, or with
/// "unavailable" for database outages; each gets a `code` extension (`INTERNAL_ERROR`,
/// `UNAVAILABLE`). Every other error without a code gets one too: `GRAPHQL_VALIDATION_FAILED`
/// for a document the engine refused before running it, `BAD_USER_INPUT` for a field that
/// refused its arguments.
pub fn hide_internal_errors(mut response: async_graphql::Response) -> async_graphql::Response {
    for e in &mut response.errors {
        let Some(store_error) = e.source::<crate::store::StoreError>().cloned() else {
            let has_code = e
                .extensions
                .as_ref()
                .is_some_and(|x| x.get("code").is_some());
            if !has_code {
                let code = if e.path.is_empty() {
                    "GRAPHQL_VALIDATION_FAILED"
                } else {
                    "BAD_USER_INPUT"
                };
                tracing::info!(code, message = %e.message, "GraphQL error answered");
                e.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", code);
            }
            continue;
        };
        let cause = crate::error::chain(&store_error);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        if store_error.is_transient() {
            tracing::warn!(cause = %cause, "database unavailable; GraphQL error answered");
            e.message = "the database is unavailable right now; retry later".into();
            ext.set("code", "UNAVAILABLE");
        } else {
            let id = uuid::Uuid::new_v4();
            tracing::error!(error_id = %id, cause = %cause, "internal error in GraphQL");
            e.message = format!("internal error (error id {id})");
            ext.set("code", "INTERNAL_ERROR");
        }
        e.extensions = Some(ext);
    }
    response
}

/// The SDL as checked in.
pub fn sdl() -> String {
    schema(None).sdl()
}

/// Which way to walk the graph.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Direction {
    Upstream,
    Downstream,
    Both,
}

/// What a node is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum NodeKind {
    Dataset,
    Job,
}

/// A dataset or a job.
#[derive(SimpleObject, Clone)]
pub struct LineageNode {
    pub id: ID,
    pub kind: NodeKind,
    pub namespace: String,
    pub name: String,
    pub dataset_type: Option<String>,
}

/// An input (dataset → job) or output (job → dataset) edge.
#[derive(SimpleObject, Clone)]
pub struct LineageEdge {
    pub source: ID,
    pub target: ID,
}

impl PlainObject for LineageNode {
    const TYPE_NAME: &'static str = "LineageNode";

    fn has(field: &str) -> bool {
        matches!(field, "id" | "kind" | "namespace" | "name" | "datasetType")
    }
}

impl PlainObject for LineageEdge {
    const TYPE_NAME: &'static str = "LineageEdge";

    fn has(field: &str) -> bool {
        matches!(field, "source" | "target")
    }
}

/// A node of the graph as it is written (a `LineageNode`).
struct NodeView<'a>(&'a LineageIndex, NodeIndex);

impl WriteFields for NodeView<'_> {
    fn write_field(&self, field: &str, _: Option<&Plan>, out: &mut Vec<u8>) {
        // The node itself is loaded only for the fields that need it: an id alone (the usual
        // large answer) touches only the kept text.
        let d = || self.0.node(self.1);
        match field {
            "id" => out.extend_from_slice(self.0.json_id(self.1)),
            "kind" => out.extend_from_slice(match d().key.kind {
                GraphNodeKind::Dataset => b"\"DATASET\"",
                GraphNodeKind::Job => b"\"JOB\"",
            }),
            "namespace" => json::write_str(out, &d().key.namespace),
            "name" => json::write_str(out, &d().key.name),
            "datasetType" => match &d().dataset_type {
                Some(t) => json::write_str(out, t),
                None => out.extend_from_slice(b"null"),
            },
            _ => out.extend_from_slice(b"null"),
        }
    }
}

/// An edge of the graph as it is written (a `LineageEdge`).
struct EdgeView<'a>(&'a LineageIndex, NodeIndex, NodeIndex);

impl WriteFields for EdgeView<'_> {
    fn write_field(&self, field: &str, _: Option<&Plan>, out: &mut Vec<u8>) {
        match field {
            "source" => out.extend_from_slice(self.0.json_id(self.1)),
            "target" => out.extend_from_slice(self.0.json_id(self.2)),
            _ => out.extend_from_slice(b"null"),
        }
    }
}

/// Nodes and edges around a node.
#[derive(SimpleObject)]
pub struct LineageGraph {
    pub nodes: Plain<LineageNode>,
    pub edges: Plain<LineageEdge>,
    pub truncated: bool,
}

/// The state of a job's latest run.
#[derive(SimpleObject)]
pub struct JobRunState {
    pub node_id: ID,
    /// `NEW`, `RUNNING`, `COMPLETED`, `FAILED` or `ABORTED`.
    pub state: String,
}

/// Something downstream of the start node.
#[derive(SimpleObject)]
pub struct Affected {
    pub node: LineageNode,
    /// Jobs between the start node and this one.
    pub distance: i32,
    /// One shortest path of node ids from the start node to this one.
    pub path: Vec<ID>,
}

/// A field made, directly or not, from the start field.
#[derive(SimpleObject)]
pub struct AffectedField {
    pub dataset_id: ID,
    pub field: String,
    /// Column-lineage hops (jobs) from the start field.
    pub distance: i32,
}

impl PlainObject for Affected {
    const TYPE_NAME: &'static str = "Affected";

    fn has(field: &str) -> bool {
        matches!(field, "node" | "distance" | "path")
    }

    fn nested_plan(field: &str, selection: &SelectionSet) -> Option<Plan> {
        (field == "node").then(|| Plan::of::<LineageNode>(selection))?
    }
}

/// The `i`th node an impact walk reached, as it is written (an `Affected`).
struct AffectedView<'a> {
    index: &'a LineageIndex,
    result: &'a ImpactResult,
    i: usize,
}

impl WriteFields for AffectedView<'_> {
    fn write_field(&self, field: &str, nested: Option<&Plan>, out: &mut Vec<u8>) {
        let (n, distance) = self.result.affected[self.i];
        match (field, nested) {
            ("node", Some(plan)) => plan.write(&NodeView(self.index, n), out),
            ("distance", _) => json::write_int(out, i64::from(distance)),
            ("path", _) => {
                out.push(b'[');
                for (k, p) in self.result.path_at(self.i).iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(self.index.json_id(*p));
                }
                out.push(b']');
            }
            _ => out.extend_from_slice(b"null"),
        }
    }
}

/// Everything downstream of a node.
#[derive(SimpleObject)]
pub struct Impact {
    pub affected: Plain<Affected>,
    pub truncated: bool,
}

fn node(index: &LineageIndex, n: NodeIndex) -> LineageNode {
    let d = index.node(n);
    LineageNode {
        id: ID(d.key.id()),
        kind: match d.key.kind {
            GraphNodeKind::Dataset => NodeKind::Dataset,
            GraphNodeKind::Job => NodeKind::Job,
        },
        namespace: d.key.namespace.to_string(),
        name: d.key.name.to_string(),
        dataset_type: d.dataset_type.as_deref().map(str::to_string),
    }
}

fn not_found(id: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!("node '{id}' not found"))
        .extend_with(|_, e| e.set("code", "NOT_FOUND"))
}

fn bad_input(message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message.to_string())
        .extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

fn depth_arg(depth: Option<i32>) -> async_graphql::Result<Option<u32>> {
    match depth {
        None => Ok(None),
        Some(d) if d < 0 => Err(bad_input("depth must be zero or more")),
        Some(d) => Ok(Some(d as u32)),
    }
}

fn lineage<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Arc<Lineage>> {
    ctx.data::<Arc<Lineage>>()
}

/// Lineage queries over the in-memory graph.
#[derive(Default)]
pub struct LineageQuery;

#[Object]
impl LineageQuery {
    /// The lineage around a node, `depth` edges at most, as of a time (now by default).
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        node_id: ID,
        #[graphql(default_with = "Direction::Both")] direction: Direction,
        #[graphql(default = 20)] depth: Option<i32>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<LineageGraph> {
        let depth = depth_arg(depth)?.unwrap_or(20);
        let index = lineage(ctx)?.read_settled().await;
        let start = index.resolve(&node_id).ok_or_else(|| not_found(&node_id))?;
        let direction = match direction {
            Direction::Upstream => GraphDirection::Upstream,
            Direction::Downstream => GraphDirection::Downstream,
            Direction::Both => GraphDirection::Both,
        };
        let g = index.lineage(
            start,
            TraverseOptions {
                direction,
                depth,
                as_of: as_of.map(to_micros),
                max_nodes: MAX_NODES,
            },
        );
        let index = &*index;
        Ok(LineageGraph {
            nodes: Plain::answer(
                ctx,
                "nodes",
                || g.nodes.iter().map(|n| NodeView(index, *n)),
                || g.nodes.iter().map(|n| node(index, *n)).collect(),
            ),
            edges: Plain::answer(
                ctx,
                "edges",
                || g.edges.iter().map(|(a, b)| EdgeView(index, *a, *b)),
                || {
                    g.edges
                        .iter()
                        .map(|(a, b)| LineageEdge {
                            source: ID(index.node(*a).key.id()),
                            target: ID(index.node(*b).key.id()),
                        })
                        .collect()
                },
            ),
            truncated: g.truncated,
        })
    }

    /// The state of each named job's latest run (at most 10,000 ids; jobs that never ran and
    /// ids that are not jobs of the graph are left out): what a drawing of lineage colours its
    /// jobs with, asked for once for all of them.
    async fn latest_run_states(
        &self,
        ctx: &Context<'_>,
        node_ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<JobRunState>> {
        if node_ids.len() > MAX_NODES {
            return Err(bad_input(&format!(
                "at most {MAX_NODES} node ids, not {}",
                node_ids.len()
            )));
        }
        let lineage = lineage(ctx)?;
        let jobs: Vec<(ID, (String, String))> = {
            let index = lineage.read_settled().await;
            node_ids
                .into_iter()
                .filter_map(|id| {
                    let key = &index.node(index.resolve(&id)?).key;
                    (key.kind == GraphNodeKind::Job)
                        .then(|| (id, (key.namespace.to_string(), key.name.to_string())))
                })
                .collect()
        };
        let keys: Vec<(String, String)> = jobs.iter().map(|(_, k)| k.clone()).collect();
        let mut states = lineage.store().latest_run_states(&keys).await?;
        Ok(jobs
            .into_iter()
            .filter_map(|(node_id, key)| {
                Some(JobRunState {
                    node_id,
                    state: states.remove(&key)?,
                })
            })
            .collect())
    }

    /// Every dataset downstream of a node (reached through jobs), with its distance in jobs and
    /// one shortest path. `datasetTypes: ["MODEL"]` keeps only datasets of those types.
    async fn impact(
        &self,
        ctx: &Context<'_>,
        node_id: ID,
        depth: Option<i32>,
        as_of: Option<DateTime<Utc>>,
        dataset_types: Option<Vec<String>>,
    ) -> async_graphql::Result<Impact> {
        let depth = depth_arg(depth)?;
        let index = lineage(ctx)?.read_settled().await;
        let index = &*index;
        let start = index.resolve(&node_id).ok_or_else(|| not_found(&node_id))?;
        let result = &index.impact(start, depth, as_of.map(to_micros), MAX_NODES);
        let wanted = &|t: &Option<std::sync::Arc<str>>| match &dataset_types {
            None => true,
            Some(types) => t
                .as_ref()
                .is_some_and(|t| types.iter().any(|w| w.eq_ignore_ascii_case(t))),
        };
        // Datasets only, of the types asked for: the places in `result.affected` answered.
        let kept = move || {
            result
                .affected
                .iter()
                .enumerate()
                .filter_map(move |(i, (n, _))| {
                    let d = index.node(*n);
                    (d.key.kind == GraphNodeKind::Dataset && wanted(&d.dataset_type)).then_some(i)
                })
        };
        let affected = Plain::answer(
            ctx,
            "affected",
            || kept().map(|i| AffectedView { index, result, i }),
            || {
                // Paths cost a walk back and an id string per hop for every node: only when
                // asked for.
                let want_paths = ctx.look_ahead().field("affected").field("path").exists();
                kept()
                    .map(|i| {
                        let (n, distance) = result.affected[i];
                        Affected {
                            node: node(index, n),
                            distance: distance as i32,
                            path: if want_paths {
                                result
                                    .path_at(i)
                                    .iter()
                                    .map(|p| ID(index.node(*p).key.id()))
                                    .collect()
                            } else {
                                Vec::new()
                            },
                        }
                    })
                    .collect()
            },
        );
        Ok(Impact {
            affected,
            truncated: result.truncated,
        })
    }

    /// Every field made, directly or not, from a dataset's field, from the `columnLineage` facets
    /// of dataset versions: those current at `asOf` (now by default).
    async fn column_impact(
        &self,
        ctx: &Context<'_>,
        node_id: ID,
        field: String,
        depth: Option<i32>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<AffectedField>> {
        let depth = depth_arg(depth)?;
        let index = lineage(ctx)?.read_settled().await;
        let start = index.resolve(&node_id).ok_or_else(|| not_found(&node_id))?;
        let (hits, _) = index.column_impact(start, &field, depth, as_of.map(to_micros), MAX_NODES);
        Ok(hits
            .into_iter()
            .map(|(n, f, d)| AffectedField {
                dataset_id: ID(index.node(n).key.id()),
                field: f,
                distance: d as i32,
            })
            .collect())
    }

    /// One shortest downstream path of node ids from one node to another, if there is one.
    async fn path(
        &self,
        ctx: &Context<'_>,
        from: ID,
        to: ID,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Vec<ID>>> {
        let index = lineage(ctx)?.read_settled().await;
        let a = index.resolve(&from).ok_or_else(|| not_found(&from))?;
        let b = index.resolve(&to).ok_or_else(|| not_found(&to))?;
        Ok(index
            .shortest_path(a, b, as_of.map(to_micros))
            .map(|p| p.iter().map(|n| ID(index.node(*n).key.id())).collect()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdl_carries_the_contract() {
        let sdl = super::sdl();
        for needle in [
            "enum Direction",
            "UPSTREAM",
            "type LineageNode",
            "datasetType: String",
            "type Affected",
            "lineage(nodeId: ID!, direction: Direction! = BOTH, depth: Int = 20, asOf: DateTime): LineageGraph!",
            "impact(nodeId: ID!, depth: Int, asOf: DateTime, datasetTypes: [String!]): Impact!",
            "path(from: ID!, to: ID!, asOf: DateTime): [ID!]",
            "columnImpact(nodeId: ID!, field: String!, depth: Int, asOf: DateTime): [AffectedField!]!",
        ] {
            assert!(sdl.contains(needle), "{needle} missing from\n{sdl}");
        }
    }
}
