//! `LineageIndex`: a petgraph `StableDiGraph` with a map from node key to index. Edges go
//! dataset → job (an input) and job → dataset (an output); each edge keeps every interval
//! `[from, to)` in which some version of the job had it, so old edges stay in history.

use std::collections::HashMap;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction as PgDirection;

use crate::model::time::Micros;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    Dataset,
    Job,
}

/// A node's identity: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    pub kind: NodeKind,
    pub namespace: String,
    pub name: String,
}

impl NodeKey {
    pub fn dataset(namespace: &str, name: &str) -> Self {
        NodeKey {
            kind: NodeKind::Dataset,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn job(namespace: &str, name: &str) -> Self {
        NodeKey {
            kind: NodeKind::Job,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The node id shared by REST, GraphQL and the UI: `dataset:{namespace}:{name}`.
    pub fn id(&self) -> String {
        let kind = match self.kind {
            NodeKind::Dataset => "dataset",
            NodeKind::Job => "job",
        };
        format!("{kind}:{}:{}", self.namespace, self.name)
    }
}

/// What the index keeps about a node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeData {
    pub key: NodeKey,
    /// The `datasetType` facet (TABLE, VIEW, MODEL, …) for datasets.
    pub dataset_type: Option<String>,
    /// When the node was soft-deleted, if it was.
    pub deleted_at: Option<Micros>,
}

/// An interval `[from, to)`; `to == Micros::MAX` while it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeSpan {
    pub from: Micros,
    pub to: Micros,
}

impl EdgeSpan {
    /// Whether the interval holds at `t` (or now, for `None`).
    pub fn holds(&self, at: Option<Micros>) -> bool {
        match at {
            None => self.to == Micros::MAX,
            Some(t) => self.from <= t && t < self.to,
        }
    }
}

/// Datasets as `(namespace, name)`.
pub type DatasetNames = Vec<(String, String)>;

/// A job's versions as the store knows them: what each read and wrote, and when it held.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphJob {
    pub namespace: String,
    pub name: String,
    pub deleted_at: Option<Micros>,
    /// `(span, inputs, outputs)` with datasets as `(namespace, name)`.
    pub versions: Vec<(EdgeSpan, DatasetNames, DatasetNames)>,
}

/// The lineage graph.
#[derive(Debug, Default)]
pub struct LineageIndex {
    pub(super) graph: StableDiGraph<NodeData, Vec<EdgeSpan>>,
    pub(super) nodes: HashMap<NodeKey, NodeIndex>,
}

impl LineageIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many nodes and edges it holds.
    pub fn size(&self) -> (usize, usize) {
        (self.graph.node_count(), self.graph.edge_count())
    }

    /// The index of a node, if present.
    pub fn find(&self, key: &NodeKey) -> Option<NodeIndex> {
        self.nodes.get(key).copied()
    }

    /// A node's data.
    pub fn node(&self, ix: NodeIndex) -> &NodeData {
        &self.graph[ix]
    }

    /// Adds a node or updates what is known about it.
    pub fn upsert_node(
        &mut self,
        key: NodeKey,
        dataset_type: Option<String>,
        deleted_at: Option<Micros>,
    ) -> NodeIndex {
        match self.nodes.get(&key) {
            Some(&ix) => {
                let n = &mut self.graph[ix];
                if dataset_type.is_some() {
                    n.dataset_type = dataset_type;
                }
                n.deleted_at = deleted_at;
                ix
            }
            None => {
                let ix = self.graph.add_node(NodeData {
                    key: key.clone(),
                    dataset_type,
                    deleted_at,
                });
                self.nodes.insert(key, ix);
                ix
            }
        }
    }

    fn node_or_insert(&mut self, key: NodeKey) -> NodeIndex {
        match self.nodes.get(&key) {
            Some(&ix) => ix,
            None => self.upsert_node(key, None, None),
        }
    }

    /// Replaces everything known about a job's edges with its versions.
    pub fn replace_job(&mut self, job: &GraphJob) {
        let j = self.upsert_node(
            NodeKey::job(&job.namespace, &job.name),
            None,
            job.deleted_at,
        );
        let old: Vec<EdgeIndex> = self
            .graph
            .edges_directed(j, PgDirection::Incoming)
            .chain(self.graph.edges_directed(j, PgDirection::Outgoing))
            .map(|e| e.id())
            .collect();
        for e in old {
            self.graph.remove_edge(e);
        }
        let mut spans: HashMap<(NodeIndex, NodeIndex), Vec<EdgeSpan>> = HashMap::new();
        for (span, inputs, outputs) in &job.versions {
            for (ns, name) in inputs {
                let d = self.node_or_insert(NodeKey::dataset(ns, name));
                spans.entry((d, j)).or_default().push(*span);
            }
            for (ns, name) in outputs {
                let d = self.node_or_insert(NodeKey::dataset(ns, name));
                spans.entry((j, d)).or_default().push(*span);
            }
        }
        for ((a, b), mut s) in spans {
            s.sort();
            self.graph.add_edge(a, b, s);
        }
    }

    /// Builds an index from every job and dataset.
    pub fn build(
        datasets: impl IntoIterator<Item = (NodeKey, Option<String>, Option<Micros>)>,
        jobs: &[GraphJob],
    ) -> Self {
        let mut ix = LineageIndex::new();
        for (key, ty, deleted) in datasets {
            ix.upsert_node(key, ty, deleted);
        }
        for job in jobs {
            ix.replace_job(job);
        }
        ix
    }

    /// Every edge that holds now, as (source, target).
    pub fn current_edges(&self) -> Vec<(NodeIndex, NodeIndex)> {
        self.graph
            .edge_indices()
            .filter(|e| self.graph[*e].iter().any(|s| s.holds(None)))
            .filter_map(|e| self.graph.edge_endpoints(e))
            .collect()
    }

    /// Resolves a node id (`dataset:{ns}:{name}`, `job:{ns}:{name}`). Namespaces contain colons
    /// (`postgres://host:5432`), so every split point is tried against the nodes present.
    pub fn resolve(&self, id: &str) -> Option<NodeIndex> {
        let (kind, rest) = if let Some(r) = id.strip_prefix("dataset:") {
            (NodeKind::Dataset, r)
        } else if let Some(r) = id.strip_prefix("job:") {
            (NodeKind::Job, r)
        } else {
            return None;
        };
        rest.match_indices(':').find_map(|(i, _)| {
            let key = NodeKey {
                kind,
                namespace: rest[..i].to_string(),
                name: rest[i + 1..].to_string(),
            };
            self.nodes.get(&key).copied()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn span(from: Micros, to: Micros) -> EdgeSpan {
        EdgeSpan { from, to }
    }

    fn job(name: &str, versions: Vec<(EdgeSpan, Vec<&str>, Vec<&str>)>) -> GraphJob {
        let ds = |v: Vec<&str>| {
            v.into_iter()
                .map(|n| ("db".to_string(), n.to_string()))
                .collect()
        };
        GraphJob {
            namespace: "ns".into(),
            name: name.into(),
            deleted_at: None,
            versions: versions
                .into_iter()
                .map(|(s, i, o)| (s, ds(i), ds(o)))
                .collect(),
        }
    }

    #[test]
    fn node_ids_with_colons_in_the_namespace_resolve() {
        let mut ix = LineageIndex::new();
        ix.upsert_node(NodeKey::dataset("postgres://host:5432", "db.t"), None, None);
        let n = ix.resolve("dataset:postgres://host:5432:db.t").unwrap();
        assert_eq!(ix.node(n).key.name, "db.t");
        assert!(ix.resolve("dataset:postgres://host:5432:other").is_none());
        assert!(ix.resolve("table:x:y").is_none());
    }

    #[test]
    fn replacing_a_job_keeps_one_edge_per_pair_with_every_interval() {
        let mut ix = LineageIndex::new();
        ix.replace_job(&job(
            "j",
            vec![
                (span(0, 10), vec!["a"], vec!["b"]),
                (span(10, Micros::MAX), vec!["a", "c"], vec!["b"]),
            ],
        ));
        assert_eq!(ix.size(), (4, 3));
        ix.replace_job(&job(
            "j",
            vec![(span(0, Micros::MAX), vec!["a"], vec!["b"])],
        ));
        assert_eq!(ix.size().1, 2, "old edges are replaced, not added to");
    }
}
