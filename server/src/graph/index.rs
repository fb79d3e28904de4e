//! `LineageIndex`: a petgraph `StableDiGraph` with a map from node key to index. Edges go
//! dataset → job (an input) and job → dataset (an output); each edge keeps every interval
//! `[from, to)` in which some version of the job had it, so old edges stay in history.
//!
//! Memory is kept small: names are `Arc<str>` shared by the graph and the key map (namespaces
//! and dataset types interned once), an edge with one interval keeps it inline, and what
//! traversals test on every step (kind, deletion time) sits in a dense array by node index.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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
    pub dataset_type: Option<Arc<str>>,
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

/// The intervals of one edge, sorted; one interval (the common case) is kept inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spans {
    One(EdgeSpan),
    Many(Box<[EdgeSpan]>),
}

impl Spans {
    /// From intervals in any order (at least one).
    pub fn from_vec(mut spans: Vec<EdgeSpan>) -> Self {
        spans.sort();
        if spans.len() == 1 {
            Spans::One(spans[0])
        } else {
            Spans::Many(spans.into_boxed_slice())
        }
    }

    /// The intervals, sorted.
    pub fn as_slice(&self) -> &[EdgeSpan] {
        match self {
            Spans::One(s) => std::slice::from_ref(s),
            Spans::Many(list) => list,
        }
    }

    /// Whether any interval holds at `at` (or now, for `None`).
    #[inline]
    pub fn holds(&self, at: Option<Micros>) -> bool {
        match self {
            Spans::One(s) => s.holds(at),
            Spans::Many(list) => list.iter().any(|s| s.holds(at)),
        }
    }
}

/// The edges that hold now as compressed adjacency lists (u32 node indexes), so that walks of
/// the current graph read each node's neighbours from one contiguous slice. Built on the first
/// query after a change.
#[derive(Debug, Default)]
pub(super) struct Adjacency {
    out_start: Vec<u32>,
    out: Vec<u32>,
    in_start: Vec<u32>,
    inc: Vec<u32>,
}

impl Adjacency {
    fn build(graph: &StableDiGraph<NodeData, Spans>) -> Self {
        use petgraph::visit::{IntoEdgeReferences, NodeIndexable};
        let n = graph.node_bound();
        let mut out_start = vec![0u32; n + 1];
        let mut in_start = vec![0u32; n + 1];
        let current: Vec<(u32, u32)> = graph
            .edge_references()
            .filter(|e| e.weight().holds(None))
            .map(|e| (e.source().index() as u32, e.target().index() as u32))
            .collect();
        for &(a, b) in &current {
            out_start[a as usize + 1] += 1;
            in_start[b as usize + 1] += 1;
        }
        for i in 0..n {
            out_start[i + 1] += out_start[i];
            in_start[i + 1] += in_start[i];
        }
        let mut out = vec![0u32; current.len()];
        let mut inc = vec![0u32; current.len()];
        let mut out_at = out_start.clone();
        let mut in_at = in_start.clone();
        for &(a, b) in &current {
            out[out_at[a as usize] as usize] = b;
            out_at[a as usize] += 1;
            inc[in_at[b as usize] as usize] = a;
            in_at[b as usize] += 1;
        }
        Adjacency {
            out_start,
            out,
            in_start,
            inc,
        }
    }

    /// Current neighbours of node `n` in one direction (none for a node added since the build).
    #[inline]
    pub(super) fn neighbours(&self, n: usize, outgoing: bool) -> &[u32] {
        let (start, list) = if outgoing {
            (&self.out_start, &self.out)
        } else {
            (&self.in_start, &self.inc)
        };
        match (start.get(n), start.get(n + 1)) {
            (Some(&a), Some(&b)) => &list[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// `flags` bit: the node is a job.
pub(super) const FLAG_JOB: u8 = 1;
/// `flags` bit: the node is soft-deleted.
pub(super) const FLAG_DELETED: u8 = 2;

/// What traversals test on every step, by node index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct NodeMeta {
    /// When the node was soft-deleted; `Micros::MAX` when it was not.
    pub deleted_at: Micros,
    pub job: bool,
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

/// A column edge: an output field that comes from an input dataset's field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnEdge {
    pub output_field: String,
    pub input: NodeKey,
    pub input_field: String,
}

/// Column edges from a `columnLineage` facet (`fields.{out}.inputFields[{namespace, name,
/// field}]`).
pub fn column_edges(facet: &serde_json::Value) -> Vec<ColumnEdge> {
    let Some(fields) = facet.get("fields").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (output_field, spec) in fields {
        for input in spec
            .get("inputFields")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |k: &str| input.get(k).and_then(serde_json::Value::as_str);
            if let (Some(ns), Some(name), Some(field)) =
                (text("namespace"), text("name"), text("field"))
            {
                out.push(ColumnEdge {
                    output_field: output_field.clone(),
                    input: NodeKey::dataset(ns, name),
                    input_field: field.to_string(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.output_field, &a.input, &a.input_field).cmp(&(
            &b.output_field,
            &b.input,
            &b.input_field,
        ))
    });
    out.dedup();
    out
}

/// A dataset field in the graph: the dataset's node and the field's name.
pub type Field = (NodeIndex, String);

/// Where an output field comes from, and when: `(output field, input, input field, span)`.
pub type ColumnSource = (String, NodeIndex, String, EdgeSpan);

/// A field made from an input field, and when: `(output, output field, span)`.
pub type ColumnUse = (NodeIndex, String, EdgeSpan);

/// The lineage graph.
#[derive(Debug, Default)]
pub struct LineageIndex {
    pub(super) graph: StableDiGraph<NodeData, Spans>,
    pub(super) nodes: HashMap<NodeKey, NodeIndex>,
    /// Kind and deletion time of each node, by index (nodes are never removed).
    pub(super) meta: Vec<NodeMeta>,
    /// The same, one byte a node, for walks of the current graph: `JOB` and `DELETED` bits.
    pub(super) flags: Vec<u8>,
    /// Namespaces and dataset types, one allocation each.
    interned: HashSet<Arc<str>>,
    /// The current edges as adjacency lists; emptied by every change to the edges.
    current: std::sync::OnceLock<Adjacency>,
    /// Column lineage of each output dataset, with when each edge held (from the versions
    /// that carried a `columnLineage` facet): `(output field, input, input field, span)`.
    pub(super) columns_in: HashMap<NodeIndex, Vec<ColumnSource>>,
    /// The same edges from the input side: (dataset, field) → the fields made from it.
    pub(super) columns_out: HashMap<Field, Vec<ColumnUse>>,
}

impl LineageIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current edges as adjacency lists, built now if a change emptied them.
    pub(super) fn current(&self) -> &Adjacency {
        self.current.get_or_init(|| Adjacency::build(&self.graph))
    }

    /// Builds what walks of the current graph use, so the first query after a change does not
    /// pay for it.
    pub fn prepare(&self) {
        self.current();
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

    /// One shared copy of a short, often repeated string (a namespace, a dataset type).
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.interned.insert(a.clone());
        a
    }

    /// Adds a node or updates what is known about it.
    pub fn upsert_node(
        &mut self,
        key: NodeKey,
        dataset_type: Option<String>,
        deleted_at: Option<Micros>,
    ) -> NodeIndex {
        let dataset_type = dataset_type.map(|t| self.intern(&t));
        let ix = match self.nodes.get(&key) {
            Some(&ix) => {
                let n = &mut self.graph[ix];
                if dataset_type.is_some() {
                    n.dataset_type = dataset_type;
                }
                n.deleted_at = deleted_at;
                ix
            }
            None => {
                let key = NodeKey {
                    namespace: self.intern(&key.namespace),
                    ..key
                };
                let ix = self.graph.add_node(NodeData {
                    key: key.clone(),
                    dataset_type,
                    deleted_at,
                });
                self.nodes.insert(key, ix);
                ix
            }
        };
        if self.meta.len() <= ix.index() {
            self.meta.resize(
                ix.index() + 1,
                NodeMeta {
                    deleted_at: Micros::MAX,
                    job: false,
                },
            );
        }
        let n = &self.graph[ix];
        let meta = NodeMeta {
            deleted_at: n.deleted_at.unwrap_or(Micros::MAX),
            job: n.key.kind == NodeKind::Job,
        };
        self.meta[ix.index()] = meta;
        self.flags.resize(self.meta.len(), 0);
        self.flags[ix.index()] = if meta.job { FLAG_JOB } else { 0 }
            | if meta.deleted_at == Micros::MAX {
                0
            } else {
                FLAG_DELETED
            };
        ix
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
        self.current.take();
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
        for ((a, b), s) in spans {
            self.graph.add_edge(a, b, Spans::from_vec(s));
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

    /// Sets the column lineage of a dataset, now and from the beginning, replacing what it had.
    pub fn set_column_lineage(&mut self, output: &NodeKey, edges: Vec<ColumnEdge>) {
        self.set_column_history(output, vec![(Micros::MIN, edges)]);
    }

    /// Sets the column lineage of a dataset over time, replacing what it had: each entry holds
    /// from its time until the next entry's (the last one until now).
    pub fn set_column_history(
        &mut self,
        output: &NodeKey,
        history: Vec<(Micros, Vec<ColumnEdge>)>,
    ) {
        let out = self.node_or_insert(output.clone());
        for (out_field, input, input_field, _) in self.columns_in.remove(&out).unwrap_or_default() {
            if let Some(list) = self.columns_out.get_mut(&(input, input_field.clone())) {
                list.retain(|(o, f, _)| !(*o == out && *f == out_field));
                if list.is_empty() {
                    self.columns_out.remove(&(input, input_field));
                }
            }
        }
        let starts: Vec<Micros> = history.iter().map(|(t, _)| *t).collect();
        let mut resolved = Vec::new();
        for (i, (from, edges)) in history.into_iter().enumerate() {
            let span = EdgeSpan {
                from,
                to: starts.get(i + 1).copied().unwrap_or(Micros::MAX),
            };
            for e in edges {
                let input = self.node_or_insert(e.input);
                let list = self
                    .columns_out
                    .entry((input, e.input_field.clone()))
                    .or_default();
                if !list
                    .iter()
                    .any(|(o, f, s)| *o == out && *f == e.output_field && *s == span)
                {
                    list.push((out, e.output_field.clone(), span));
                }
                resolved.push((e.output_field, input, e.input_field, span));
            }
        }
        if !resolved.is_empty() {
            self.columns_in.insert(out, resolved);
        }
    }

    /// Fields made, directly or not, from a dataset's field: `(dataset, field, hops)`, nearest
    /// first; `depth` limits the hops; the column lineage that held at `as_of` (or now).
    pub fn column_impact(
        &self,
        start: NodeIndex,
        field: &str,
        depth: Option<u32>,
        as_of: Option<Micros>,
        max: usize,
    ) -> (Vec<(NodeIndex, String, u32)>, bool) {
        let mut seen: std::collections::HashSet<(NodeIndex, String)> =
            std::collections::HashSet::from([(start, field.to_string())]);
        let mut queue = std::collections::VecDeque::from([(start, field.to_string(), 0u32)]);
        let mut out = Vec::new();
        while let Some((n, f, d)) = queue.pop_front() {
            if depth.is_some_and(|limit| d >= limit) {
                continue;
            }
            for (m, g, span) in self.columns_out.get(&(n, f)).into_iter().flatten() {
                if !span.holds(as_of) {
                    continue;
                }
                if seen.insert((*m, g.clone())) {
                    if out.len() >= max {
                        return (out, true);
                    }
                    out.push((*m, g.clone(), d + 1));
                    queue.push_back((*m, g.clone(), d + 1));
                }
            }
        }
        (out, false)
    }

    /// Column lineage around fields, breadth first: each `(input field, output field)` edge
    /// reached within `depth` hops, upstream always and downstream when asked, as the column
    /// lineage held at `as_of` (or now).
    pub fn column_lineage(
        &self,
        starts: &[Field],
        depth: u32,
        downstream: bool,
        as_of: Option<Micros>,
        max: usize,
    ) -> (Vec<(Field, Field)>, bool) {
        let mut seen: std::collections::HashSet<Field> = starts.iter().cloned().collect();
        let mut edges: std::collections::BTreeSet<(Field, Field)> =
            std::collections::BTreeSet::new();
        let mut queue: std::collections::VecDeque<(Field, u32)> =
            starts.iter().cloned().map(|f| (f, 0)).collect();
        let mut truncated = false;
        while let Some(((n, f), d)) = queue.pop_front() {
            if d >= depth {
                continue;
            }
            let mut next: Vec<(Field, (Field, Field))> = Vec::new();
            for (out_field, input, input_field, span) in
                self.columns_in.get(&n).into_iter().flatten()
            {
                if *out_field == f && span.holds(as_of) {
                    let from = (*input, input_field.clone());
                    next.push((from.clone(), (from, (n, f.clone()))));
                }
            }
            if downstream {
                for (m, g, span) in self.columns_out.get(&(n, f.clone())).into_iter().flatten() {
                    if !span.holds(as_of) {
                        continue;
                    }
                    let to = (*m, g.clone());
                    next.push((to.clone(), ((n, f.clone()), to)));
                }
            }
            for (field, edge) in next {
                edges.insert(edge);
                if seen.len() >= max {
                    truncated = true;
                    continue;
                }
                if seen.insert(field.clone()) {
                    queue.push_back((field, d + 1));
                }
            }
        }
        let edges = edges
            .into_iter()
            .filter(|(a, b)| seen.contains(a) && seen.contains(b))
            .collect();
        (edges, truncated)
    }

    /// The fields of a dataset that have column lineage, as outputs or as inputs.
    pub fn column_fields(&self, n: NodeIndex) -> Vec<String> {
        let mut fields: Vec<String> = self
            .columns_in
            .get(&n)
            .into_iter()
            .flatten()
            .map(|(f, _, _, _)| f.clone())
            .collect();
        fields.extend(
            self.columns_out
                .keys()
                .filter(|(m, _)| *m == n)
                .map(|(_, f)| f.clone()),
        );
        fields.sort();
        fields.dedup();
        fields
    }

    /// Every edge that holds now, as (source, target).
    pub fn current_edges(&self) -> Vec<(NodeIndex, NodeIndex)> {
        self.graph
            .edge_indices()
            .filter(|e| self.graph[*e].holds(None))
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
                namespace: Arc::from(&rest[..i]),
                name: Arc::from(&rest[i + 1..]),
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
        assert_eq!(&*ix.node(n).key.name, "db.t");
        assert!(ix.resolve("dataset:postgres://host:5432:other").is_none());
        assert!(ix.resolve("table:x:y").is_none());
    }

    #[test]
    fn column_impact_follows_fields_and_replacing_lineage_forgets_the_old() {
        let mut ix = LineageIndex::new();
        let edge = |out: &str, ds: &str, f: &str| ColumnEdge {
            output_field: out.into(),
            input: NodeKey::dataset("db", ds),
            input_field: f.into(),
        };
        ix.set_column_lineage(
            &NodeKey::dataset("db", "b"),
            vec![edge("total", "a", "amount"), edge("id", "a", "id")],
        );
        ix.set_column_lineage(
            &NodeKey::dataset("db", "c"),
            vec![edge("sum_total", "b", "total")],
        );
        let a = ix.find(&NodeKey::dataset("db", "a")).unwrap();
        let (hits, truncated) = ix.column_impact(a, "amount", None, None, 100);
        let names: Vec<(String, String, u32)> = hits
            .iter()
            .map(|(n, f, d)| (ix.node(*n).key.name.to_string(), f.clone(), *d))
            .collect();
        assert_eq!(
            names,
            [
                ("b".into(), "total".into(), 1),
                ("c".into(), "sum_total".into(), 2)
            ]
        );
        assert!(!truncated);
        assert_eq!(ix.column_impact(a, "amount", Some(1), None, 100).0.len(), 1);
        ix.set_column_lineage(&NodeKey::dataset("db", "b"), vec![edge("id", "a", "id")]);
        assert!(ix.column_impact(a, "amount", None, None, 100).0.is_empty());
        // With history: `total` came from `amount` until 10, then from `fee`.
        ix.set_column_history(
            &NodeKey::dataset("db", "b"),
            vec![
                (0, vec![edge("total", "a", "amount")]),
                (10, vec![edge("total", "a", "fee")]),
            ],
        );
        let names = |hits: Vec<(NodeIndex, String, u32)>| -> Vec<String> {
            hits.into_iter().map(|(_, f, _)| f).collect()
        };
        assert_eq!(
            names(ix.column_impact(a, "amount", None, Some(5), 100).0),
            ["total", "sum_total"]
        );
        assert!(ix
            .column_impact(a, "amount", None, Some(10), 100)
            .0
            .is_empty());
        assert!(ix.column_impact(a, "amount", None, None, 100).0.is_empty());
        assert_eq!(
            names(ix.column_impact(a, "fee", None, None, 100).0),
            ["total", "sum_total"]
        );
        assert!(ix.column_impact(a, "fee", None, Some(5), 100).0.is_empty());
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
