//! `GraphLoader`: builds the whole index at startup from the store's rows, joined by id here
//! rather than by name in SQL. The store hands over four scans, in this order: datasets, jobs,
//! job versions, and what each job version read and wrote; rows within a scan come in any
//! order. The result is the index [`LineageIndex::build`] makes from the same jobs.

use std::sync::Arc;

use petgraph::stable_graph::NodeIndex;

use super::index::{EdgeSpan, LineageIndex, NodeKey, NodeKind, Spans};
use crate::model::graph::GraphSink;
use crate::model::time::Micros;

/// Ids as numbers, hashed with foldhash (the maps hold millions of them).
type IdMap<V> = foldhash::HashMap<u128, V>;

/// An id as a number: the UUID it spells (ids written by Tributary always are), or else the
/// first 16 bytes of its SHA-256. UUIDs compare as numbers the way their lowercase text does,
/// so versions at the same time are ordered as the store's `ORDER BY id` orders them.
fn id_key(id: &str) -> u128 {
    use sha2::Digest;
    match uuid::Uuid::try_parse(id) {
        Ok(u) => u.as_u128(),
        Err(_) => {
            let digest = sha2::Sha256::digest(id.as_bytes());
            u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"))
        }
    }
}

/// A job as read: a node once it has a version (a job with none is not in the graph).
enum JobSlot {
    Pending(Arc<str>, Arc<str>, Option<Micros>),
    Node(NodeIndex),
}

/// A job version as read: its job's node and when it held (until the next version is known,
/// from its `valid_from` on).
#[derive(Clone, Copy)]
struct VersionSlot {
    job: NodeIndex,
    span: EdgeSpan,
}

/// An edge of some job version, while that version held.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct LoadEdge {
    from: u32,
    to: u32,
    span: EdgeSpan,
}

/// Puts the store's scans together into an index.
///
/// Millions of rows go through here, so what a row needs is kept in the map its id finds (one
/// cache miss, not several), and consecutive edges of the same version (how versions are
/// written) look the version up once.
#[derive(Default)]
pub struct GraphLoader {
    index: LineageIndex,
    datasets: IdMap<NodeIndex>,
    jobs: IdMap<JobSlot>,
    versions: IdMap<VersionSlot>,
    /// Whether every version's end is known (set by the first edge).
    settled: bool,
    /// The version of the last edge, to skip looking it up again.
    last_version: Option<(u128, VersionSlot)>,
    edges: Vec<LoadEdge>,
}

impl GraphLoader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Each version holds from its `valid_from` until the job's next version starts (versions
    /// at the same time are ordered by id).
    fn settle_versions(&mut self) {
        let mut order: Vec<(NodeIndex, Micros, u128)> = self
            .versions
            .iter()
            .map(|(id, v)| (v.job, v.span.from, *id))
            .collect();
        order.sort_unstable();
        for &(job, from, _) in &order {
            // Sorted by start: the last one of each job stays.
            self.index.job_last.insert(job, from);
        }
        for pair in order.windows(2) {
            let ((job, _, id), (next_job, next_from, _)) = (pair[0], pair[1]);
            if job == next_job {
                if let Some(v) = self.versions.get_mut(&id) {
                    v.span.to = next_from;
                }
            }
        }
        self.settled = true;
    }

    /// The index: one edge for each pair of nodes, with every interval in which it held.
    pub fn finish(mut self) -> LineageIndex {
        if !self.settled {
            // No version read or wrote anything: no edges, but the versions' starts count.
            self.settle_versions();
        }
        let GraphLoader {
            mut index,
            mut edges,
            ..
        } = self;
        edges.sort_unstable();
        for group in edges.chunk_by(|a, b| (a.from, a.to) == (b.from, b.to)) {
            index.graph.add_edge(
                NodeIndex::new(group[0].from as usize),
                NodeIndex::new(group[0].to as usize),
                Spans::from_vec(group.iter().map(|e| e.span).collect()),
            );
        }
        index
    }
}

impl GraphSink for GraphLoader {
    /// A dataset row.
    fn dataset(
        &mut self,
        id: &str,
        namespace: &str,
        name: &str,
        dataset_type: Option<&str>,
        deleted_at: Option<Micros>,
    ) {
        let key = NodeKey {
            kind: NodeKind::Dataset,
            namespace: self.index.intern(namespace),
            name: name.into(),
        };
        let n = self
            .index
            .upsert_node(key, dataset_type.map(str::to_string), deleted_at);
        self.datasets.insert(id_key(id), n);
    }

    /// A job row.
    fn job(&mut self, id: &str, namespace: &str, name: &str, deleted_at: Option<Micros>) {
        let namespace = self.index.intern(namespace);
        self.jobs
            .entry(id_key(id))
            .or_insert_with(|| JobSlot::Pending(namespace, name.into(), deleted_at));
    }

    /// A job version row; versions of unknown jobs are ignored.
    fn version(&mut self, id: &str, job_id: &str, valid_from: Micros) {
        let Some(slot) = self.jobs.get_mut(&id_key(job_id)) else {
            return;
        };
        let job = match slot {
            JobSlot::Node(n) => *n,
            JobSlot::Pending(namespace, name, deleted_at) => {
                let key = NodeKey {
                    kind: NodeKind::Job,
                    namespace: namespace.clone(),
                    name: name.clone(),
                };
                let n = self.index.upsert_node(key, None, *deleted_at);
                *slot = JobSlot::Node(n);
                n
            }
        };
        let span = EdgeSpan {
            from: valid_from,
            to: Micros::MAX,
        };
        self.versions
            .entry(id_key(id))
            .or_insert(VersionSlot { job, span });
    }

    /// A dataset a job version read (`direction` "in") or wrote; rows naming an unknown version
    /// or dataset are ignored.
    fn edge(&mut self, version_id: &str, direction: &str, dataset_id: &str) {
        if !self.settled {
            self.settle_versions();
        }
        let key = id_key(version_id);
        let version = match self.last_version {
            Some((last, v)) if last == key => v,
            _ => match self.versions.get(&key) {
                Some(&v) => {
                    self.last_version = Some((key, v));
                    v
                }
                None => return,
            },
        };
        let Some(&dataset) = self.datasets.get(&id_key(dataset_id)) else {
            return;
        };
        let (from, to) = if direction == "in" {
            (dataset, version.job)
        } else {
            (version.job, dataset)
        };
        self.edges.push(LoadEdge {
            from: from.index() as u32,
            to: to.index() as u32,
            span: version.span,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::index::GraphJob;

    fn uuid(n: u128) -> String {
        uuid::Uuid::from_u128(n).to_string()
    }

    /// Every edge of an index with its intervals, by node ids.
    fn edges_by_name(ix: &LineageIndex) -> Vec<(String, String, Vec<EdgeSpan>)> {
        let mut v: Vec<_> = ix
            .graph
            .edge_indices()
            .map(|e| {
                let (a, b) = ix.graph.edge_endpoints(e).unwrap();
                (
                    ix.node(a).key.id(),
                    ix.node(b).key.id(),
                    ix.graph[e].as_slice().to_vec(),
                )
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    #[test]
    fn loading_by_id_gives_the_index_built_from_jobs() {
        let span = |from, to| EdgeSpan { from, to };
        let ds = |v: &[&str]| -> Vec<(String, String)> {
            v.iter().map(|n| ("db".into(), n.to_string())).collect()
        };
        // Three versions, two of them at the same time: the smaller id first, for no time.
        let built = LineageIndex::build(
            [(NodeKey::dataset("db", "a"), Some("TABLE".into()), Some(7))],
            &[
                GraphJob {
                    namespace: "ns".into(),
                    name: "j".into(),
                    deleted_at: None,
                    since: Micros::MIN,
                    until: Micros::MAX,
                    versions: vec![
                        (span(0, 100), ds(&["a", "b"]), ds(&["c"])),
                        (span(100, 100), ds(&["a"]), ds(&["c"])),
                        (span(100, Micros::MAX), ds(&["a", "c"]), ds(&["c"])),
                    ],
                },
                GraphJob {
                    namespace: "ns".into(),
                    name: "k".into(),
                    deleted_at: Some(3),
                    since: Micros::MIN,
                    until: Micros::MAX,
                    versions: vec![(span(0, Micros::MAX), vec![], vec![])],
                },
            ],
        );
        let mut l = GraphLoader::new();
        l.dataset(&uuid(1), "db", "a", Some("TABLE"), Some(7));
        l.dataset(&uuid(2), "db", "b", None, None);
        l.dataset(&uuid(3), "db", "c", None, None);
        l.job(&uuid(10), "ns", "idle", None);
        l.job(&uuid(11), "ns", "j", None);
        l.job(&uuid(12), "ns", "k", Some(3));
        l.version(&uuid(22), &uuid(11), 100);
        l.version(&uuid(20), &uuid(11), 0);
        l.version(&uuid(21), &uuid(11), 100);
        l.version(&uuid(30), &uuid(12), 0);
        l.version(&uuid(40), &uuid(99), 0); // no such job
        for (v, dir, d) in [
            (20, "in", 1),
            (20, "in", 2),
            (20, "out", 3),
            (21, "in", 1),
            (21, "out", 3),
            (22, "in", 1),
            (22, "in", 3),
            (22, "out", 3),
            (22, "in", 9),  // no such dataset
            (99, "out", 1), // no such version
        ] {
            l.edge(&uuid(v), dir, &uuid(d));
        }
        let loaded = l.finish();
        assert_eq!(loaded.size(), built.size());
        assert_eq!(edges_by_name(&loaded), edges_by_name(&built));
        assert!(
            loaded.find(&NodeKey::job("ns", "idle")).is_none(),
            "a job with no versions is not in the graph"
        );
        for key in [NodeKey::dataset("db", "a"), NodeKey::job("ns", "k")] {
            let node = |ix: &LineageIndex| ix.node(ix.find(&key).unwrap()).clone();
            assert_eq!(node(&loaded), node(&built));
        }
        assert_eq!(id_key("not-a-uuid"), id_key("not-a-uuid"));
        assert_ne!(id_key("not-a-uuid"), id_key("not-a-uuid2"));
    }
}
