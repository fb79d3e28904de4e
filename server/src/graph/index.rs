//! `LineageIndex`: a petgraph `StableDiGraph` with a map from node key to index. Edges go
//! dataset → job (an input) and job → dataset (an output); each edge keeps every interval
//! `[from, to)` in which some version of the job had it, so old edges stay in history.
//!
//! Memory is kept small: names are `Arc<str>` shared by the graph and the key map (namespaces
//! and dataset types interned once), an edge with one interval keeps it inline, and what
//! traversals test on every step (kind, deletion time) sits in a dense array by node index.

use std::collections::HashMap;
use std::sync::Arc;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction as PgDirection;

pub use crate::model::graph::{
    column_edges, ColumnEdge, DatasetNames, EdgeSpan, GraphJob, NodeKey, NodeKind,
};
use crate::model::graph::{ColumnDelta, GraphChange, GraphDelta};
use crate::model::time::Micros;
use crate::model::{NodeId, NodeIdKind};

/// What the index keeps about a node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeData {
    pub key: NodeKey,
    /// The `datasetType` facet (TABLE, VIEW, MODEL, …) for datasets.
    pub dataset_type: Option<Arc<str>>,
    /// When the node was soft-deleted, if it was.
    pub deleted_at: Option<Micros>,
}

/// Node ids as JSON text, one after another in node index order (nodes are never removed).
#[derive(Debug, Default)]
struct JsonIds {
    text: Vec<u8>,
    /// Where each node's id ends in `text` (it begins where the one before ends).
    ends: Vec<usize>,
}

impl JsonIds {
    fn push(&mut self, key: &NodeKey) {
        key.write_json_id(&mut self.text);
        self.ends.push(self.text.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The intervals of one edge, sorted; one interval (the common case) is kept inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spans {
    One(EdgeSpan),
    Many(Box<[EdgeSpan]>),
}

/// Intervals sorted, with those that touch or overlap joined: `[0, 10)` and `[10, 20)` (two
/// versions of a job with the same edge) are `[0, 20)`, the same instants in less room.
fn merge_spans(mut spans: Vec<EdgeSpan>) -> Vec<EdgeSpan> {
    spans.sort_unstable();
    let mut out: Vec<EdgeSpan> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.from <= last.to => last.to = last.to.max(s.to),
            _ => out.push(s),
        }
    }
    out
}

/// The intervals of a history that survive a read-back of `[since, until)`: those that began
/// before `since`, the ones still open at `since` now ending at `next` (where the first version
/// read back begins, else `until`), and what holds from `until` on.
fn spans_outside(
    spans: &[EdgeSpan],
    since: Micros,
    next: Micros,
    until: Micros,
) -> impl Iterator<Item = EdgeSpan> + '_ {
    spans.iter().flat_map(move |s| {
        let before = (s.from < since).then_some(EdgeSpan {
            from: s.from,
            to: if s.to >= since { next } else { s.to },
        });
        let after = (s.to > until || s.from >= until).then_some(EdgeSpan {
            from: s.from.max(until),
            to: s.to,
        });
        before.into_iter().chain(after)
    })
}

impl Spans {
    /// From intervals in any order (at least one); touching ones are joined.
    pub fn from_vec(spans: Vec<EdgeSpan>) -> Self {
        let spans = merge_spans(spans);
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

/// The edges that hold now as compressed adjacency lists, so that walks of the current graph
/// read each node's neighbours from one contiguous slice. Built on the first query after a
/// change.
///
/// Inside, nodes are numbered in breadth-first order from the graph's sources (a topological
/// order where there are no cycles), not in the order they were added: what one walk reaches
/// then sits close together in memory, which on graphs of millions of nodes matters more than
/// anything else the walk does. `slot` maps a node index to its number here, `node` back.
#[derive(Debug, Default)]
pub(super) struct Adjacency {
    slot: Vec<u32>,
    node: Vec<u32>,
    out_start: Vec<u32>,
    out: Vec<u32>,
    in_start: Vec<u32>,
    inc: Vec<u32>,
}

/// Bit set in an adjacency entry whose node is a job.
pub(super) const JOB_BIT: u32 = 1 << 31;

/// Compressed lists from `(from, to)` pairs of slots: `start[i]..start[i + 1]` indexes `list`.
fn compress(n: usize, pairs: impl Iterator<Item = (u32, u32)> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for (a, _) in pairs.clone() {
        start[(a & !JOB_BIT) as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut list = vec![0u32; start[n] as usize];
    let mut at = start.clone();
    for (a, b) in pairs {
        let a = (a & !JOB_BIT) as usize;
        list[at[a] as usize] = b;
        at[a] += 1;
    }
    (start, list)
}

impl Adjacency {
    /// From the edges that hold now, leaving out soft-deleted nodes (no walk of the current
    /// graph enters them); each entry carries `JOB_BIT` when its node is a job.
    fn build(graph: &StableDiGraph<NodeData, Spans>, flags: &[u8]) -> Self {
        use petgraph::visit::{IntoEdgeReferences, NodeIndexable};
        let n = graph.node_bound();
        assert!(n < JOB_BIT as usize, "node indexes fit in 31 bits");
        let live = |m: usize| flags.get(m).is_some_and(|f| f & FLAG_DELETED == 0);
        let current: Vec<(u32, u32)> = graph
            .edge_references()
            .filter(|e| e.weight().holds(None))
            .map(|e| (e.source().index() as u32, e.target().index() as u32))
            .filter(|&(a, b)| live(a as usize) && live(b as usize))
            .collect();
        // Breadth first from the nodes nothing leads to, then from whatever a cycle kept out.
        let (by_node_start, by_node) = compress(n, current.iter().copied());
        let mut waiting = vec![0u32; n];
        for &(_, b) in &current {
            waiting[b as usize] += 1;
        }
        let mut node: Vec<u32> = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        let mut head = 0;
        let sources: Vec<usize> = (0..n).filter(|&m| waiting[m] == 0).collect();
        for root in sources.into_iter().chain(0..n) {
            if placed[root] {
                continue;
            }
            placed[root] = true;
            node.push(root as u32);
            while head < node.len() {
                let m = node[head] as usize;
                head += 1;
                for &next in &by_node[by_node_start[m] as usize..by_node_start[m + 1] as usize] {
                    let next = next as usize;
                    waiting[next] = waiting[next].saturating_sub(1);
                    if waiting[next] == 0 && !placed[next] {
                        placed[next] = true;
                        node.push(next as u32);
                    }
                }
            }
        }
        drop((by_node_start, by_node, waiting, placed));

        let mut slot = vec![0u32; n];
        for (i, &m) in node.iter().enumerate() {
            slot[m as usize] = i as u32;
        }
        let entry = |m: u32| {
            let job = flags.get(m as usize).is_some_and(|f| f & FLAG_JOB != 0);
            slot[m as usize] | if job { JOB_BIT } else { 0 }
        };
        let (out_start, out) = compress(
            n,
            current.iter().map(|&(a, b)| (slot[a as usize], entry(b))),
        );
        let (in_start, inc) = compress(
            n,
            current.iter().map(|&(a, b)| (slot[b as usize], entry(a))),
        );
        Adjacency {
            slot,
            node,
            out_start,
            out,
            in_start,
            inc,
        }
    }

    /// The slot of a node index (`None` for a node added since the build).
    #[inline]
    pub(super) fn slot(&self, n: usize) -> Option<u32> {
        self.slot.get(n).copied()
    }

    /// The node index in a slot (an entry of `neighbours`, `JOB_BIT` ignored).
    #[inline]
    pub(super) fn node(&self, slot: u32) -> usize {
        self.node[(slot & !JOB_BIT) as usize] as usize
    }

    /// Current neighbours of the node in `slot`, one direction, as slots with `JOB_BIT` set on
    /// jobs; soft-deleted nodes are left out.
    #[inline]
    pub(super) fn neighbours(&self, slot: u32, outgoing: bool) -> &[u32] {
        let (start, list) = if outgoing {
            (&self.out_start, &self.out)
        } else {
            (&self.in_start, &self.inc)
        };
        let s = slot as usize;
        &list[start[s] as usize..start[s + 1] as usize]
    }

    /// Current neighbours of node index `n`, as node indexes (none for a node added since the
    /// build).
    pub(super) fn neighbour_nodes(
        &self,
        n: usize,
        outgoing: bool,
    ) -> impl Iterator<Item = usize> + '_ {
        self.slot(n)
            .map(|s| self.neighbours(s, outgoing))
            .unwrap_or(&[])
            .iter()
            .map(|&m| self.node(m))
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
    pub(super) nodes: foldhash::HashMap<NodeKey, NodeIndex>,
    /// Kind and deletion time of each node, by index (nodes are never removed).
    pub(super) meta: Vec<NodeMeta>,
    /// The same, one byte a node, for walks of the current graph: `JOB` and `DELETED` bits.
    pub(super) flags: Vec<u8>,
    /// Each node's id as JSON text, by index, for the large answers that write thousands.
    json_ids: JsonIds,
    /// Namespaces and dataset types, one allocation each.
    interned: foldhash::HashSet<Arc<str>>,
    /// The current edges as adjacency lists; emptied by every change to the edges.
    current: std::sync::OnceLock<Adjacency>,
    /// Column lineage of each output dataset, with when each edge held (from the versions
    /// that carried a `columnLineage` facet): `(output field, input, input field, span)`.
    pub(super) columns_in: HashMap<NodeIndex, Vec<ColumnSource>>,
    /// The same edges from the input side: (dataset, field) → the fields made from it.
    pub(super) columns_out: HashMap<Field, Vec<ColumnUse>>,
    /// When each job's latest version began, as far as the graph knows (never earlier than
    /// that): versions that begin after it can be appended without reading the store.
    pub(super) job_last: foldhash::HashMap<NodeIndex, Micros>,
    /// When the latest version in each dataset's column history was created, and whether no
    /// other there was created at the same instant, where the graph knows it exactly.
    column_last: foldhash::HashMap<NodeIndex, (Micros, bool)>,
}

impl LineageIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current edges as adjacency lists, built now if a change emptied them.
    pub(super) fn current(&self) -> &Adjacency {
        self.current
            .get_or_init(|| Adjacency::build(&self.graph, &self.flags))
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

    /// Every node, the most connected first (ties by index).
    pub fn nodes_by_degree(&self) -> Vec<NodeIndex> {
        let mut nodes: Vec<(usize, NodeIndex)> = self
            .graph
            .node_indices()
            .map(|n| {
                (
                    self.graph.edges_directed(n, PgDirection::Incoming).count()
                        + self.graph.edges_directed(n, PgDirection::Outgoing).count(),
                    n,
                )
            })
            .collect();
        nodes.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        nodes.into_iter().map(|(_, n)| n).collect()
    }

    /// The index of a node, if present.
    pub fn find(&self, key: &NodeKey) -> Option<NodeIndex> {
        self.nodes.get(key).copied()
    }

    /// A node's data.
    pub fn node(&self, ix: NodeIndex) -> &NodeData {
        &self.graph[ix]
    }

    /// A node's id as a JSON string (`"dataset:{namespace}:{name}"`, escaped), as
    /// [`NodeKey::write_json_id`] writes it: kept beside the graph in index order, so that an
    /// answer of thousands of ids copies each from one place instead of following the node's
    /// key to its namespace and name and escaping them again.
    pub fn json_id(&self, ix: NodeIndex) -> &[u8] {
        self.json_ids.get(ix.index())
    }

    /// One shared copy of a short, often repeated string (a namespace, a dataset type).
    pub(super) fn intern(&mut self, s: &str) -> Arc<str> {
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
                self.json_ids.push(&key);
                let ix = self.graph.add_node(NodeData {
                    key: key.clone(),
                    dataset_type,
                    deleted_at,
                });
                debug_assert_eq!(ix.index() + 1, self.json_ids.len());
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
        let flags = if meta.job { FLAG_JOB } else { 0 }
            | if meta.deleted_at == Micros::MAX {
                0
            } else {
                FLAG_DELETED
            };
        if self.flags[ix.index()] & FLAG_DELETED != flags & FLAG_DELETED {
            // The adjacency lists leave deleted nodes out.
            self.current.take();
        }
        self.flags[ix.index()] = flags;
        ix
    }

    fn node_or_insert(&mut self, key: NodeKey) -> NodeIndex {
        match self.nodes.get(&key) {
            Some(&ix) => ix,
            None => self.upsert_node(key, None, None),
        }
    }

    /// Whether `job` (a commit's versions of a job, from `since` on) begins after every version
    /// the graph holds of that job, so that [`Self::replace_job`] gives what reading the job
    /// back from `since` would. A job whose versions did not change (`since == Micros::MAX`)
    /// always does.
    pub fn appends(&self, job: &GraphJob) -> bool {
        if job.since == Micros::MAX {
            return true;
        }
        let last = self
            .find(&NodeKey::job(&job.namespace, &job.name))
            .and_then(|j| self.job_last.get(&j).copied())
            .unwrap_or(Micros::MIN);
        job.since > last
    }

    /// Takes a commit's delta: its datasets and the jobs it appended to as they are; answers
    /// what must still be read back (the delta's own `read_back`, jobs whose new versions do
    /// not come after everything the graph holds of them, and column histories the graph
    /// holds lineage in).
    pub fn apply_delta(&mut self, delta: GraphDelta) -> GraphChange {
        let GraphDelta {
            datasets,
            jobs,
            columns,
            mut read_back,
        } = delta;
        for (key, ty, deleted) in datasets {
            self.upsert_node(key, ty, deleted);
        }
        let mut more = GraphChange::default();
        for job in jobs {
            if self.appends(&job) {
                self.replace_job(&job);
            } else {
                // Its new versions fall among those the graph holds: read back from the first
                // of them up to the version that follows the last.
                let key = (job.namespace, job.name);
                more.cuts.jobs.insert(key.clone(), job.since);
                if let Some(last) = job.versions.last() {
                    more.cuts.job_ends.insert(key.clone(), last.0.from);
                }
                more.jobs.push(key);
            }
        }
        for c in columns {
            if !self.extend_columns(&c) {
                let key = (c.namespace, c.name);
                more.cuts.columns.insert(key.clone(), c.cut);
                more.datasets.push(key);
            }
        }
        read_back.merge(more);
        read_back
    }

    /// Takes a commit's column history of a dataset where that gives what reading it back
    /// would: when neither the graph nor the commit has column lineage for it, or when the
    /// commit's versions all come after the version that was current, which was the latest in
    /// the history, alone at its instant, and had column lineage (so it keeps its place, and
    /// holds until the first of them). Whether it did.
    fn extend_columns(&mut self, c: &ColumnDelta) -> bool {
        let key = NodeKey::dataset(&c.namespace, &c.name);
        let node = self.find(&key);
        let held = node.is_some_and(|n| self.columns_in.contains_key(&n));
        if !held && c.entries.iter().all(|(_, facet)| facet.is_none()) {
            // No edge before or after: only when its last version was is no longer known.
            if let Some(n) = node {
                self.column_last.remove(&n);
            }
            return true;
        }
        let Some(first) = c.entries.first().map(|e| e.0) else {
            return false;
        };
        let takes = match c.previous {
            None => !held,
            Some(previous) => {
                first > previous
                    && node.is_some_and(|n| {
                        self.column_last.get(&n) == Some(&(previous, true))
                            && self
                                .columns_in
                                .get(&n)
                                .is_some_and(|list| list.iter().any(|e| e.3.to == Micros::MAX))
                    })
            }
        };
        if takes {
            let history = c
                .entries
                .iter()
                .map(|(t, facet)| {
                    let edges = facet.as_ref().map(|f| column_edges(f.get()));
                    (*t, edges.unwrap_or_default())
                })
                .collect();
            self.set_column_history(&key, first, history);
        }
        takes
    }

    /// Brings a job's edges in line with its versions from `job.since` up to `job.until`: what
    /// held before `since` stays (the version open at `since` now ends where the first one read
    /// back begins, or at `until`), and so does what holds from `until` on; everything between
    /// is replaced. `Micros::MIN` to `Micros::MAX` replaces the whole history.
    pub fn replace_job(&mut self, job: &GraphJob) {
        let key = NodeKey::job(&job.namespace, &job.name);
        if job.since == Micros::MAX {
            // No version changed: the edges are as they were. A job the graph does not have
            // (one only named as a parent, with no version) stays out, as a whole load leaves it.
            if self.find(&key).is_some() {
                self.upsert_node(key, None, job.deleted_at);
            }
            return;
        }
        let (since, until) = (job.since, job.until);
        let j = self.upsert_node(key, None, job.deleted_at);
        // Where nothing was read back from `since` on, the latest start known stays: no earlier
        // than the true one. A read that stops at `until` leaves a later start in place.
        if until == Micros::MAX {
            if let Some(last) = job.versions.iter().map(|v| v.0.from).max() {
                self.job_last.insert(j, last);
            }
        }
        let next = job.versions.first().map_or(until, |v| v.0.from);
        let old: Vec<(EdgeIndex, NodeIndex, NodeIndex)> = self
            .graph
            .edges_directed(j, PgDirection::Incoming)
            .chain(self.graph.edges_directed(j, PgDirection::Outgoing))
            .map(|e| (e.id(), e.source(), e.target()))
            .collect();
        let mut spans: HashMap<(NodeIndex, NodeIndex), Vec<EdgeSpan>> = HashMap::new();
        for (e, a, b) in old {
            let list = self.graph[e].as_slice();
            if list.iter().all(|s| s.to < since || s.from >= until) {
                // Over before `since`, or from `until` on: untouched.
                continue;
            }
            let kept: Vec<EdgeSpan> = spans_outside(list, since, next, until).collect();
            spans.insert((a, b), kept);
            self.graph.remove_edge(e);
        }
        self.current.take();
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
            if s.is_empty() {
                continue;
            }
            match self.graph.find_edge(a, b) {
                // An edge over before `since` that holds again.
                Some(e) => {
                    s.extend_from_slice(self.graph[e].as_slice());
                    self.graph[e] = Spans::from_vec(s);
                }
                None => {
                    self.graph.add_edge(a, b, Spans::from_vec(s));
                }
            }
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
        self.set_column_history(output, Micros::MIN, vec![(Micros::MIN, edges)]);
    }

    /// Sets the column lineage of a dataset over time from `since` on (`Micros::MIN`: all of
    /// it): each entry holds from its time until the next entry's (the last one until now);
    /// what held before `since` stays, the lineage open at `since` ending where the first entry
    /// begins. An edge that holds over consecutive entries is kept as one interval.
    pub fn set_column_history(
        &mut self,
        output: &NodeKey,
        since: Micros,
        history: Vec<(Micros, Vec<ColumnEdge>)>,
    ) {
        self.set_column_history_between(output, since, Micros::MAX, history);
    }

    /// The same for the part of the history from `since` until `until` only: `history` holds
    /// the entries from `since` on that begin before `until`, the last of them ending there, and
    /// what holds from `until` on stays as it is (`Micros::MAX`: to now, as
    /// [`LineageIndex::set_column_history`]). For a version a late event put inside a long
    /// history: only its neighbourhood is read back and redone.
    pub fn set_column_history_between(
        &mut self,
        output: &NodeKey,
        since: Micros,
        until: Micros,
        history: Vec<(Micros, Vec<ColumnEdge>)>,
    ) {
        let out = self.node_or_insert(output.clone());
        // What was over before `since`, or begins after `until`, stays as it is, where it is;
        // the rest is taken out and redone. (The list grows with the dataset's history, an
        // appended version's entries at its end: only those move.)
        let mut untouched = self.columns_in.remove(&out).unwrap_or_default();
        let mut changed: Vec<ColumnSource> = Vec::new();
        untouched.retain_mut(|(out_field, input, input_field, span)| {
            if span.to < since || span.from > until {
                return true;
            }
            changed.push((
                std::mem::take(out_field),
                *input,
                std::mem::take(input_field),
                *span,
            ));
            false
        });
        for (out_field, input, input_field, span) in &changed {
            let key = (*input, input_field.clone());
            if let Some(list) = self.columns_out.get_mut(&key) {
                // The span first: it rules out nearly every entry of a long list without
                // comparing text.
                list.retain(|(o, f, s)| !(s == span && *o == out && f == out_field));
                if list.is_empty() {
                    self.columns_out.remove(&key);
                }
            }
        }
        let next = history.first().map_or(until, |(t, _)| *t);
        let mut spans: std::collections::BTreeMap<(String, NodeIndex, String), Vec<EdgeSpan>> =
            std::collections::BTreeMap::new();
        for (out_field, input, input_field, span) in changed {
            // The part from `until` on holds as it did.
            let span = [span];
            let mut kept = spans_outside(&span, since, next, until).peekable();
            if kept.peek().is_some() {
                spans
                    .entry((out_field, input, input_field))
                    .or_default()
                    .extend(kept);
            }
        }
        // What the graph knows of the history's latest version from now on (a history read up
        // to `until` leaves its latest version where it was).
        if until == Micros::MAX {
            match history.iter().map(|(t, _)| *t).max() {
                Some(last) => {
                    let alone = history.iter().filter(|(t, _)| *t == last).count() == 1;
                    self.column_last.insert(out, (last, alone));
                }
                None => {
                    if self.column_last.get(&out).is_some_and(|(t, _)| *t >= since) {
                        self.column_last.remove(&out);
                    }
                }
            }
        }
        let starts: Vec<Micros> = history.iter().map(|(t, _)| *t).collect();
        for (i, (from, edges)) in history.into_iter().enumerate() {
            let span = EdgeSpan {
                from,
                to: starts.get(i + 1).copied().unwrap_or(until),
            };
            for e in edges {
                let input = self.node_or_insert(e.input);
                spans
                    .entry((e.output_field, input, e.input_field))
                    .or_default()
                    .push(span);
            }
        }
        let mut resolved = untouched;
        for ((out_field, input, input_field), list) in spans {
            for span in merge_spans(list) {
                self.columns_out
                    .entry((input, input_field.clone()))
                    .or_default()
                    .push((out, out_field.clone(), span));
                resolved.push((out_field.clone(), input, input_field.clone(), span));
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

    /// Resolves a node id (`dataset:{ns}:{name}`, `job:{ns}:{name}`); `None` for anything else.
    pub fn resolve(&self, id: &str) -> Option<NodeIndex> {
        self.resolve_id(&NodeId::parse(id).ok()?)
    }

    /// Resolves a parsed node id: of its `(namespace, name)` readings (namespaces contain colons),
    /// the one a node present has. A `datasetField` id resolves to its dataset.
    pub fn resolve_id(&self, id: &NodeId) -> Option<NodeIndex> {
        let kind = match id.kind() {
            NodeIdKind::Dataset | NodeIdKind::DatasetField => NodeKind::Dataset,
            NodeIdKind::Job => NodeKind::Job,
            NodeIdKind::Run => return None,
        };
        id.splits().find_map(|(namespace, name)| {
            let key = NodeKey {
                kind,
                namespace: Arc::from(namespace),
                name: Arc::from(name),
            };
            self.nodes.get(&key).copied()
        })
    }
}

#[cfg(test)]
impl LineageIndex {
    /// Every edge with its intervals and every column edge, by names: what tests compare.
    pub(crate) fn picture(&self) -> Vec<String> {
        let ix = self;
        let mut out: Vec<String> = ix
            .graph
            .edge_indices()
            .map(|e| {
                let (a, b) = ix.graph.edge_endpoints(e).unwrap();
                format!(
                    "{} -> {} {:?}",
                    ix.node(a).key.id(),
                    ix.node(b).key.id(),
                    ix.graph[e].as_slice()
                )
            })
            .collect();
        for (n, list) in &ix.columns_in {
            for (f, i, g, s) in list {
                out.push(format!(
                    "{}.{f} <- {}.{g} {s:?}",
                    ix.node(*n).key.id(),
                    ix.node(*i).key.id()
                ));
            }
        }
        for ((i, g), list) in &ix.columns_out {
            for (n, f, s) in list {
                out.push(format!(
                    "{}.{g} => {}.{f} {s:?}",
                    ix.node(*i).key.id(),
                    ix.node(*n).key.id()
                ));
            }
        }
        out.sort();
        out
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
            since: Micros::MIN,
            until: Micros::MAX,
            versions: versions
                .into_iter()
                .map(|(s, i, o)| (s, ds(i), ds(o)))
                .collect(),
        }
    }

    #[test]
    fn kept_json_ids_are_each_nodes_id_as_json() {
        let mut ix = LineageIndex::new();
        let keys = [
            NodeKey::dataset("postgres://host:5432", "db.t"),
            NodeKey::job("ns", "quote\"back\\slash\u{1}\u{e9}"),
            NodeKey::dataset("", ""),
            NodeKey::job("airflow", "dag.task"),
        ];
        let mut nodes = Vec::new();
        for k in &keys {
            nodes.push(ix.upsert_node(k.clone(), None, None));
        }
        // Known again (and deleted): the same node, the same text.
        ix.upsert_node(keys[1].clone(), None, Some(5));
        for (k, n) in keys.iter().zip(nodes) {
            let text = std::str::from_utf8(ix.json_id(n)).unwrap();
            assert_eq!(text, serde_json::to_string(&k.id()).unwrap());
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
            Micros::MIN,
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

    /// A tiny deterministic generator (no test dependency for it).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Versions `(valid_from, inputs, outputs)` as a job read back from `since` (spans as the
    /// store computes them: each until the next one starts).
    fn versions_from(
        since: Micros,
        versions: &[(Micros, Vec<&'static str>, Vec<&'static str>)],
    ) -> GraphJob {
        versions_between(since, Micros::MAX, versions)
    }

    /// The same, of the versions that begin before `until` only, the last ending there.
    fn versions_between(
        since: Micros,
        until: Micros,
        versions: &[(Micros, Vec<&'static str>, Vec<&'static str>)],
    ) -> GraphJob {
        let mut sorted = versions.to_vec();
        sorted.sort_by_key(|v| v.0);
        let kept: Vec<_> = sorted
            .into_iter()
            .filter(|v| v.0 >= since && v.0 < until)
            .collect();
        let mut list = Vec::new();
        for (i, (from, ins, outs)) in kept.iter().enumerate() {
            let to = kept.get(i + 1).map_or(until, |v| v.0);
            list.push((span(*from, to), ins.clone(), outs.clone()));
        }
        GraphJob {
            since,
            until,
            ..job("j", list)
        }
    }

    /// When the first of `versions` after `last` begins.
    fn first_after(
        versions: &[(Micros, Vec<&'static str>, Vec<&'static str>)],
        last: Micros,
    ) -> Option<Micros> {
        versions.iter().map(|v| v.0).filter(|t| *t > last).min()
    }

    #[test]
    fn a_history_read_back_from_a_cut_equals_the_history_read_whole() {
        const NAMES: [&str; 4] = ["a", "b", "c", "d"];
        let mut rng = Lcg(7);
        for round in 0..500 {
            let pick = |rng: &mut Lcg| -> Vec<&'static str> {
                (0..rng.below(3))
                    .map(|_| NAMES[rng.below(4) as usize])
                    .collect()
            };
            let before: Vec<_> = (0..rng.below(6))
                .map(|_| (rng.below(40) as Micros, pick(&mut rng), pick(&mut rng)))
                .collect();
            // A commit writes or removes versions from `cut` on; earlier ones stay as they are.
            let cut = rng.below(45) as Micros;
            let mut after: Vec<_> = before.iter().filter(|v| v.0 < cut).cloned().collect();
            after.extend(
                before
                    .iter()
                    .filter(|v| v.0 >= cut && rng.below(3) > 0)
                    .cloned(),
            );
            for _ in 0..rng.below(3) {
                after.push((
                    cut + rng.below(10) as Micros,
                    pick(&mut rng),
                    pick(&mut rng),
                ));
            }
            let mut spliced = LineageIndex::new();
            spliced.replace_job(&versions_from(Micros::MIN, &before));
            spliced.replace_job(&versions_from(cut, &after));
            let mut whole = LineageIndex::new();
            whole.replace_job(&versions_from(Micros::MIN, &before));
            whole.replace_job(&versions_from(Micros::MIN, &after));
            assert_eq!(
                spliced.picture(),
                whole.picture(),
                "round {round}: {before:?} then from {cut}: {after:?}"
            );

            // Column lineage the same way: `out.x` from one input field per entry, or none.
            let history =
                |since: Micros, entries: &[(Micros, Vec<&'static str>, Vec<&'static str>)]| {
                    let mut list: Vec<(Micros, Vec<ColumnEdge>)> = entries
                        .iter()
                        .filter(|e| e.0 >= since)
                        .map(|(t, ins, _)| {
                            let edges = ins
                                .iter()
                                .map(|i| ColumnEdge {
                                    output_field: "x".into(),
                                    input: NodeKey::dataset("db", i),
                                    input_field: "y".into(),
                                })
                                .collect();
                            (*t, edges)
                        })
                        .collect();
                    list.sort_by_key(|e| e.0);
                    list
                };
            let out = NodeKey::dataset("db", "out");
            let mut spliced = LineageIndex::new();
            spliced.set_column_history(&out, Micros::MIN, history(Micros::MIN, &before));
            spliced.set_column_history(&out, cut, history(cut, &after));
            let mut whole = LineageIndex::new();
            whole.set_column_history(&out, Micros::MIN, history(Micros::MIN, &before));
            whole.set_column_history(&out, Micros::MIN, history(Micros::MIN, &after));
            assert_eq!(
                spliced.picture(),
                whole.picture(),
                "columns, round {round}: {before:?} then from {cut}: {after:?}"
            );

            // Versions only added, none after `last`: redone from `cut` until the first entry
            // after them, the rest left as it was.
            let added: Vec<_> = (0..1 + rng.below(3))
                .map(|_| (cut + rng.below(10) as Micros, pick(&mut rng), Vec::new()))
                .collect();
            let last = added.iter().map(|a| a.0).max().expect("one at least");
            // As the store reads it: bounded only where one entry begins at `until`.
            let until = first_after(&before, last)
                .filter(|u| before.iter().filter(|b| b.0 == *u).count() == 1)
                .unwrap_or(Micros::MAX);
            let mut grown = before.clone();
            grown.extend(added);
            let mut spliced = LineageIndex::new();
            spliced.set_column_history(&out, Micros::MIN, history(Micros::MIN, &before));
            let between: Vec<_> = history(cut, &grown)
                .into_iter()
                .filter(|e| e.0 < until)
                .collect();
            spliced.set_column_history_between(&out, cut, until, between);
            let mut whole = LineageIndex::new();
            whole.set_column_history(&out, Micros::MIN, history(Micros::MIN, &grown));
            assert_eq!(
                spliced.picture(),
                whole.picture(),
                "columns between, round {round}: {before:?} then {grown:?} from {cut} until {until}"
            );

            // A job the same way: versions only added, read back from `cut` until the first
            // version after them, however many versions begin there.
            let added: Vec<_> = (0..1 + rng.below(3))
                .map(|_| {
                    (
                        cut + rng.below(10) as Micros,
                        pick(&mut rng),
                        pick(&mut rng),
                    )
                })
                .collect();
            let last = added.iter().map(|a| a.0).max().expect("one at least");
            let until = first_after(&before, last).unwrap_or(Micros::MAX);
            let mut grown = before.clone();
            grown.extend(added);
            let mut spliced = LineageIndex::new();
            spliced.replace_job(&versions_from(Micros::MIN, &before));
            spliced.replace_job(&versions_between(cut, until, &grown));
            let mut whole = LineageIndex::new();
            whole.replace_job(&versions_from(Micros::MIN, &grown));
            assert_eq!(
                spliced.picture(),
                whole.picture(),
                "job between, round {round}: {before:?} then {grown:?} from {cut} until {until}"
            );
        }
    }

    #[test]
    fn touching_intervals_are_kept_as_one() {
        let mut ix = LineageIndex::new();
        ix.replace_job(&job(
            "j",
            vec![
                (span(0, 10), vec!["a"], vec!["b"]),
                (span(10, 10), vec!["a"], vec!["b"]),
                (span(10, 20), vec!["a", "c"], vec!["b"]),
                (span(20, Micros::MAX), vec!["a"], vec!["b"]),
            ],
        ));
        let a = ix.find(&NodeKey::dataset("db", "a")).unwrap();
        let c = ix.find(&NodeKey::dataset("db", "c")).unwrap();
        let j = ix.find(&NodeKey::job("ns", "j")).unwrap();
        let spans = |x, y| {
            ix.graph[ix.graph.find_edge(x, y).unwrap()]
                .as_slice()
                .to_vec()
        };
        assert_eq!(spans(a, j), [span(0, Micros::MAX)]);
        assert_eq!(spans(c, j), [span(10, 20)]);
        // Nothing changed in the job's versions: the edges stay.
        ix.replace_job(&GraphJob {
            since: Micros::MAX,
            ..job("j", vec![])
        });
        assert_eq!(ix.size().1, 3);
        // A job with no version that changed and no node (a parent only) gets none.
        ix.replace_job(&GraphJob {
            since: Micros::MAX,
            ..job("parent", vec![])
        });
        assert!(ix.find(&NodeKey::job("ns", "parent")).is_none());
    }
}
