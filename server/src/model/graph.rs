//! The lineage graph's vocabulary, shared by the store (which keeps it) and the in-memory graph
//! (which walks it): node keys, edge intervals, a job's versions as stored, and the interface a
//! whole load is handed through. Knows nothing of SQL or of petgraph.

use std::sync::Arc;

use crate::model::time::Micros;
use crate::model::NodeId;

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
    pub namespace: Arc<str>,
    pub name: Arc<str>,
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
        match self.kind {
            NodeKind::Dataset => NodeId::dataset(&self.namespace, &self.name),
            NodeKind::Job => NodeId::job(&self.namespace, &self.name),
        }
    }
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

/// What receives a whole load of the graph from the store: rows joined by id, in this order —
/// every dataset, every job, every job version, then every edge (a version's input or output).
/// The in-memory graph's loader implements it; the store only calls it.
pub trait GraphSink: Send {
    /// A dataset row.
    fn dataset(
        &mut self,
        id: &str,
        namespace: &str,
        name: &str,
        dataset_type: Option<&str>,
        deleted_at: Option<Micros>,
    );
    /// A job row.
    fn job(&mut self, id: &str, namespace: &str, name: &str, deleted_at: Option<Micros>);
    /// A job version and when it started to hold.
    fn version(&mut self, id: &str, job_id: &str, valid_from: Micros);
    /// A version's input (`direction` `in`) or output (`out`).
    fn edge(&mut self, version_id: &str, direction: &str, dataset_id: &str);
}
