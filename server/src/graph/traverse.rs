//! Traversals over the index: lineage (upstream, downstream, both) with a depth limit, impact
//! (datasets downstream, with distance in jobs and one shortest path), and shortest paths. Every
//! traversal takes an optional as-of time and a node limit, and says when it truncated.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::stable_graph::NodeIndex;
use petgraph::visit::{EdgeRef, NodeIndexable};
use petgraph::Direction as PgDirection;

use super::index::{LineageIndex, FLAG_JOB, JOB_BIT};
use crate::model::time::Micros;

/// Which way to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upstream,
    Downstream,
    Both,
}

/// How far and when.
#[derive(Debug, Clone, Copy)]
pub struct TraverseOptions {
    pub direction: Direction,
    /// Edges from the start node, at most.
    pub depth: u32,
    /// The graph as of this time; `None` is now.
    pub as_of: Option<Micros>,
    /// Stop after this many nodes and say so.
    pub max_nodes: usize,
}

/// Nodes and edges reached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subgraph {
    pub nodes: Vec<NodeIndex>,
    pub edges: Vec<(NodeIndex, NodeIndex)>,
    pub truncated: bool,
}

/// What `impact` found.
#[derive(Debug, Clone, Default)]
pub struct ImpactResult {
    start: NodeIndex,
    /// Each node reached, with its distance in jobs, nearest first.
    pub affected: Vec<(NodeIndex, u32)>,
    /// Parent links of the breadth-first walk, one for each entry of `affected`: the parent's
    /// position in `affected` + 1, or 0 for the start node.
    parents: Vec<u32>,
    pub truncated: bool,
}

impl ImpactResult {
    /// One shortest path of nodes from the start node to `affected[i]`, both included.
    pub fn path_at(&self, i: usize) -> Vec<NodeIndex> {
        let mut path = vec![self.affected[i].0];
        let mut parent = self.parents[i];
        while parent != 0 {
            let at = parent as usize - 1;
            path.push(self.affected[at].0);
            parent = self.parents[at];
        }
        path.push(self.start);
        path.reverse();
        path
    }

    /// One shortest path from the start node to `node`, both included; `None` when the walk
    /// did not reach it.
    pub fn path(&self, node: NodeIndex) -> Option<Vec<NodeIndex>> {
        if node == self.start {
            return Some(vec![node]);
        }
        let i = self.affected.iter().position(|(n, _)| *n == node)?;
        Some(self.path_at(i))
    }
}

impl LineageIndex {
    #[inline]
    fn visible(&self, n: NodeIndex, as_of: Option<Micros>) -> bool {
        let deleted = self.meta[n.index()].deleted_at;
        deleted == Micros::MAX || as_of.is_some_and(|t| t < deleted)
    }

    /// Neighbours over edges that hold at `as_of`, in one direction: from the adjacency lists
    /// for now, from the edges' intervals for a past time.
    fn neighbours(
        &self,
        n: NodeIndex,
        dir: PgDirection,
        as_of: Option<Micros>,
    ) -> impl Iterator<Item = NodeIndex> + '_ {
        let now = as_of.is_none().then(|| {
            self.current()
                .neighbour_nodes(n.index(), dir == PgDirection::Outgoing)
        });
        let past = as_of.map(|t| {
            self.graph
                .edges_directed(n, dir)
                .filter(move |e| e.weight().holds(Some(t)))
                .map(move |e| {
                    if dir == PgDirection::Outgoing {
                        e.target()
                    } else {
                        e.source()
                    }
                })
        });
        now.into_iter()
            .flatten()
            .map(NodeIndex::new)
            .chain(past.into_iter().flatten())
    }

    /// The lineage around a node: breadth first, `depth` edges at most.
    pub fn lineage(&self, start: NodeIndex, opts: TraverseOptions) -> Subgraph {
        if !self.visible(start, opts.as_of) {
            return Subgraph::default();
        }
        let dirs: &[bool] = match opts.direction {
            Direction::Upstream => &[false],
            Direction::Downstream => &[true],
            Direction::Both => &[false, true],
        };
        let bound = self.graph.node_bound();
        // Both walks answer node indexes (the walk of now translates from its numbering).
        let (nodes, edges, truncated) = match opts.as_of {
            // Now: the adjacency lists, in their own numbering.
            None => {
                let adjacency = self.current();
                let Some(slot) = adjacency.slot(start.index()) else {
                    return Subgraph {
                        nodes: vec![start],
                        ..Subgraph::default()
                    };
                };
                let (mut nodes, mut edges, truncated) =
                    walk_around(slot, bound, opts, dirs, |s, outgoing, out| {
                        out.extend(
                            adjacency
                                .neighbours(s, outgoing)
                                .iter()
                                .map(|m| m & !JOB_BIT),
                        )
                    });
                let node = |s: &mut u32| *s = adjacency.node(*s) as u32;
                nodes.iter_mut().for_each(node);
                edges.iter_mut().for_each(|(a, b)| {
                    node(a);
                    node(b);
                });
                (nodes, edges, truncated)
            }
            // A past time: the edges' intervals, by node index.
            Some(_) => walk_around(
                start.index() as u32,
                bound,
                opts,
                dirs,
                |n, outgoing, out| {
                    let dir = if outgoing {
                        PgDirection::Outgoing
                    } else {
                        PgDirection::Incoming
                    };
                    out.extend(
                        self.neighbours(NodeIndex::new(n as usize), dir, opts.as_of)
                            .filter(|m| self.visible(*m, opts.as_of))
                            .map(|m| m.index() as u32),
                    )
                },
            ),
        };
        let ix = |n: u32| NodeIndex::new(n as usize);
        let mut edges: Vec<(NodeIndex, NodeIndex)> =
            edges.into_iter().map(|(a, b)| (ix(a), ix(b))).collect();
        edges.sort_unstable();
        Subgraph {
            nodes: nodes.into_iter().map(ix).collect(),
            edges,
            truncated,
        }
    }

    /// Everything downstream of a node, each with its distance in jobs; `depth` limits the
    /// distance. Paths are kept as parent links and built only for the nodes asked about.
    ///
    /// Nothing node-sized is allocated but a bitset of the nodes seen (an eighth of a byte a
    /// node), so the walk costs what it reaches, not what the graph holds.
    pub fn impact(
        &self,
        start: NodeIndex,
        depth: Option<u32>,
        as_of: Option<Micros>,
        max_nodes: usize,
    ) -> ImpactResult {
        let mut result = ImpactResult {
            start,
            ..ImpactResult::default()
        };
        if !self.visible(start, as_of) {
            return result;
        }
        let job_bit = |n: usize| {
            if self.flags[n] & FLAG_JOB != 0 {
                JOB_BIT
            } else {
                0
            }
        };
        let bound = self.graph.node_bound();
        let walk = match as_of {
            // Now: the adjacency lists, in their own numbering.
            None => {
                let adjacency = self.current();
                let Some(slot) = adjacency.slot(start.index()) else {
                    return result;
                };
                let mut walk = walk_down(
                    slot | job_bit(start.index()),
                    bound,
                    depth,
                    max_nodes,
                    |s, out| out.extend_from_slice(adjacency.neighbours(s & !JOB_BIT, true)),
                );
                for entry in &mut walk.entries {
                    entry.0 = adjacency.node(entry.0) as u32;
                }
                walk
            }
            // A past time: the edges' intervals, by node index.
            Some(t) => walk_down(
                start.index() as u32 | job_bit(start.index()),
                bound,
                depth,
                max_nodes,
                |n, out| {
                    let n = NodeIndex::new((n & !JOB_BIT) as usize);
                    out.extend(
                        self.graph
                            .edges_directed(n, PgDirection::Outgoing)
                            .filter(|e| {
                                e.weight().holds(Some(t)) && self.visible(e.target(), as_of)
                            })
                            .map(|e| e.target().index() as u32 | job_bit(e.target().index())),
                    );
                },
            ),
        };
        result.affected = walk
            .entries
            .into_iter()
            .map(|(n, d)| (NodeIndex::new((n & !JOB_BIT) as usize), d))
            .collect();
        result.parents = walk.parents;
        result.truncated = walk.truncated;
        result
    }

    /// One shortest directed path from `from` to `to` (downstream), if any.
    pub fn shortest_path(
        &self,
        from: NodeIndex,
        to: NodeIndex,
        as_of: Option<Micros>,
    ) -> Option<Vec<NodeIndex>> {
        if !self.visible(from, as_of) || !self.visible(to, as_of) {
            return None;
        }
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut seen = HashSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            if n == to {
                let mut path = vec![to];
                let mut at = to;
                while let Some(&p) = parent.get(&at) {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            for m in self.neighbours(n, PgDirection::Outgoing, as_of) {
                if self.visible(m, as_of) && seen.insert(m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        None
    }
}

/// Breadth first around `start` in whatever numbering `neighbours` uses (below `bound`):
/// `neighbours(n, outgoing, out)` appends `n`'s successors (or predecessors). Answers the nodes
/// reached (start first), every edge between them that the walk crossed (each once), and whether
/// the node limit cut it short.
fn walk_around(
    start: u32,
    bound: usize,
    opts: TraverseOptions,
    dirs: &[bool],
    mut neighbours: impl FnMut(u32, bool, &mut Vec<u32>),
) -> (Vec<u32>, Vec<(u32, u32)>, bool) {
    let mut seen = vec![0u64; bound.div_ceil(64)];
    let is_seen = |seen: &[u64], m: u32| seen[m as usize / 64] & (1 << (m % 64)) != 0;
    seen[start as usize / 64] |= 1 << (start % 64);
    let mut nodes = vec![start];
    let mut depths = vec![0u32];
    let mut edges = Vec::new();
    let mut next = Vec::new();
    let mut truncated = false;
    let mut head = 0;
    while let Some(&n) = nodes.get(head) {
        let d = depths[head];
        head += 1;
        if d >= opts.depth {
            continue;
        }
        for &outgoing in dirs {
            next.clear();
            neighbours(n, outgoing, &mut next);
            for &m in &next {
                if !is_seen(&seen, m) {
                    if nodes.len() >= opts.max_nodes {
                        truncated = true;
                        continue;
                    }
                    seen[m as usize / 64] |= 1 << (m % 64);
                    nodes.push(m);
                    depths.push(d + 1);
                }
                edges.push(if outgoing { (n, m) } else { (m, n) });
            }
        }
    }
    edges.retain(|&(a, b)| is_seen(&seen, a) && is_seen(&seen, b));
    // Walking both ways meets an edge from both of its ends; one way, each node is expanded
    // once and the graph keeps one edge per pair: nothing to take out (the caller sorts).
    if dirs.len() > 1 {
        edges.sort_unstable();
        edges.dedup();
    }
    (nodes, edges, truncated)
}

/// What a downstream walk reached: `(node, distance in jobs)` in the order reached, and for
/// each its parent's position in that list + 1 (0 for the start node).
#[derive(Default)]
struct Walk {
    entries: Vec<(u32, u32)>,
    parents: Vec<u32>,
    truncated: bool,
}

/// Breadth first downstream from `start`, in whatever numbering `neighbours` uses (below
/// `bound`, with `JOB_BIT` set on jobs): `neighbours(n, out)` appends `n`'s successors.
fn walk_down(
    start: u32,
    bound: usize,
    depth: Option<u32>,
    max_nodes: usize,
    mut neighbours: impl FnMut(u32, &mut Vec<u32>),
) -> Walk {
    let mut seen = vec![0u64; bound.div_ceil(64)];
    let mut mark = |m: u32| -> bool {
        let m = (m & !JOB_BIT) as usize;
        let (word, bit) = (m / 64, 1u64 << (m % 64));
        let fresh = seen[word] & bit == 0;
        seen[word] |= bit;
        fresh
    };
    mark(start);
    let mut walk = Walk::default();
    let mut next = Vec::new();
    // Breadth first over `entries` itself: position 0 is the start node, i + 1 is entries[i].
    let mut head = 0usize;
    loop {
        let (n, here) = match head {
            0 => (start, 0),
            _ => match walk.entries.get(head - 1) {
                Some(&entry) => entry,
                None => break,
            },
        };
        // A dataset at the depth limit leads only to jobs beyond it.
        if n & JOB_BIT != 0 || depth != Some(here) {
            next.clear();
            neighbours(n, &mut next);
            for &m in &next {
                let d = here + u32::from(m & JOB_BIT != 0);
                if depth.is_some_and(|limit| d > limit) || !mark(m) {
                    continue;
                }
                if walk.entries.len() >= max_nodes {
                    walk.truncated = true;
                    return walk;
                }
                walk.entries.push((m, d));
                walk.parents.push(head as u32);
            }
        }
        head += 1;
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::index::{EdgeSpan, GraphJob, NodeKey};

    const NOW: Micros = Micros::MAX;

    fn job(name: &str, versions: &[(Micros, Micros, &[&str], &[&str])]) -> GraphJob {
        let ds = |v: &[&str]| {
            v.iter()
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
                .iter()
                .map(|(f, t, i, o)| (EdgeSpan { from: *f, to: *t }, ds(i), ds(o)))
                .collect(),
        }
    }

    fn ds(ix: &LineageIndex, name: &str) -> NodeIndex {
        ix.find(&NodeKey::dataset("db", name)).unwrap()
    }

    fn names(ix: &LineageIndex, nodes: &[NodeIndex]) -> Vec<String> {
        let mut v: Vec<String> = nodes
            .iter()
            .map(|n| ix.node(*n).key.name.to_string())
            .collect();
        v.sort();
        v
    }

    fn opts(direction: Direction, depth: u32) -> TraverseOptions {
        TraverseOptions {
            direction,
            depth,
            as_of: None,
            max_nodes: 1000,
        }
    }

    /// a → j1 → b → j2 → c, and a diamond: b → j3 → d, c → j4 → e ← j5 ← d.
    fn diamond() -> LineageIndex {
        LineageIndex::build(
            [],
            &[
                job("j1", &[(0, NOW, &["a"], &["b"])]),
                job("j2", &[(0, NOW, &["b"], &["c"])]),
                job("j3", &[(0, NOW, &["b"], &["d"])]),
                job("j4", &[(0, NOW, &["c"], &["e"])]),
                job("j5", &[(0, NOW, &["d"], &["e"])]),
            ],
        )
    }

    #[test]
    fn walks_of_now_see_changes_made_after_an_earlier_walk() {
        let mut ix = diamond();
        let down = |ix: &LineageIndex, from: &str| -> Vec<String> {
            let hits = ix.impact(ds(ix, from), None, None, 100);
            let nodes: Vec<NodeIndex> = hits.affected.iter().map(|(n, _)| *n).collect();
            names(ix, &nodes)
        };
        assert_eq!(down(&ix, "d"), ["e", "j5"]);
        // j5 now writes f instead of e; a new job reads f. The adjacency built by the first walk
        // must not answer the second.
        ix.replace_job(&job(
            "j5",
            &[(0, 10, &["d"], &["e"]), (10, NOW, &["d"], &["f"])],
        ));
        ix.replace_job(&job("j6", &[(0, NOW, &["f"], &["g"])]));
        assert_eq!(down(&ix, "d"), ["f", "g", "j5", "j6"]);
        // The past still answers from the intervals.
        let then = ix.impact(ds(&ix, "d"), None, Some(5), 100);
        let nodes: Vec<NodeIndex> = then.affected.iter().map(|(n, _)| *n).collect();
        assert_eq!(names(&ix, &nodes), ["e", "j5"]);
        // A node added after the last walk has no current edges yet, and no panic.
        let lone = ix.upsert_node(NodeKey::dataset("db", "lone"), None, None);
        assert!(ix.impact(lone, None, None, 100).affected.is_empty());
        // Deleting a node after a walk hides it from the next walk of now, not of before.
        ix.upsert_node(NodeKey::dataset("db", "f"), None, Some(20));
        assert_eq!(down(&ix, "d"), ["j5"]);
        let then = ix.impact(ds(&ix, "d"), None, Some(15), 100);
        let nodes: Vec<NodeIndex> = then.affected.iter().map(|(n, _)| *n).collect();
        assert_eq!(names(&ix, &nodes), ["f", "g", "j5", "j6"]);
        ix.upsert_node(NodeKey::dataset("db", "f"), None, None);
        assert_eq!(down(&ix, "d"), ["f", "g", "j5", "j6"]);
    }

    #[test]
    fn downstream_of_a_diamond_reaches_everything_once() {
        let ix = diamond();
        let g = ix.lineage(ds(&ix, "a"), opts(Direction::Downstream, 20));
        assert_eq!(
            names(&ix, &g.nodes),
            ["a", "b", "c", "d", "e", "j1", "j2", "j3", "j4", "j5"]
        );
        assert_eq!(g.edges.len(), 10);
        assert!(!g.truncated);
    }

    #[test]
    fn depth_zero_is_the_node_alone_and_depth_limits_hops() {
        let ix = diamond();
        let g = ix.lineage(ds(&ix, "a"), opts(Direction::Downstream, 0));
        assert_eq!(names(&ix, &g.nodes), ["a"]);
        let g = ix.lineage(ds(&ix, "a"), opts(Direction::Downstream, 2));
        assert_eq!(names(&ix, &g.nodes), ["a", "b", "j1"]);
    }

    #[test]
    fn upstream_walks_against_the_edges() {
        let ix = diamond();
        let g = ix.lineage(ds(&ix, "e"), opts(Direction::Upstream, 20));
        assert_eq!(
            names(&ix, &g.nodes),
            ["a", "b", "c", "d", "e", "j1", "j2", "j3", "j4", "j5"]
        );
        let g = ix.lineage(ds(&ix, "c"), opts(Direction::Both, 2));
        assert_eq!(names(&ix, &g.nodes), ["b", "c", "e", "j2", "j4"]);
    }

    #[test]
    fn impact_gives_distances_in_jobs_and_a_shortest_path() {
        let ix = diamond();
        let r = ix.impact(ds(&ix, "a"), None, None, 1000);
        assert!(!r.truncated);
        let (e, distance) = *r
            .affected
            .iter()
            .find(|(n, _)| &*ix.node(*n).key.name == "e")
            .unwrap();
        assert_eq!(distance, 3);
        let path = r.path(e).unwrap();
        assert_eq!(path.len(), 7);
        assert_eq!(path[0], ds(&ix, "a"));
        assert_eq!(names(&ix, &path[6..]), ["e"]);
        assert_eq!(r.path(ds(&ix, "a")), Some(vec![ds(&ix, "a")]));
        let limited = ix.impact(ds(&ix, "a"), Some(1), None, 1000);
        let reached: Vec<NodeIndex> = limited.affected.iter().map(|a| a.0).collect();
        assert_eq!(names(&ix, &reached), ["b", "j1"]);
    }

    #[test]
    fn cycles_and_self_loops_terminate() {
        let ix = LineageIndex::build(
            [],
            &[
                job("loop", &[(0, NOW, &["x"], &["x"])]),
                job("back", &[(0, NOW, &["x"], &["y"])]),
                job("forth", &[(0, NOW, &["y"], &["x"])]),
            ],
        );
        let g = ix.lineage(ds(&ix, "x"), opts(Direction::Both, 100));
        assert_eq!(names(&ix, &g.nodes), ["back", "forth", "loop", "x", "y"]);
        assert_eq!(ix.impact(ds(&ix, "x"), None, None, 1000).affected.len(), 4);
    }

    #[test]
    fn as_of_keeps_old_edges_in_history() {
        // `train` read `old_features` until t=100, then `new_features`.
        let ix = LineageIndex::build(
            [],
            &[job(
                "train",
                &[
                    (0, 100, &["old_features"], &["model"]),
                    (100, NOW, &["new_features"], &["model"]),
                ],
            )],
        );
        let model = ds(&ix, "model");
        let now = ix.lineage(model, opts(Direction::Upstream, 10));
        assert_eq!(names(&ix, &now.nodes), ["model", "new_features", "train"]);
        let before = ix.lineage(
            model,
            TraverseOptions {
                as_of: Some(50),
                ..opts(Direction::Upstream, 10)
            },
        );
        assert_eq!(
            names(&ix, &before.nodes),
            ["model", "old_features", "train"]
        );
    }

    #[test]
    fn the_node_limit_truncates_and_says_so() {
        let ix = diamond();
        let g = ix.lineage(
            ds(&ix, "a"),
            TraverseOptions {
                max_nodes: 3,
                ..opts(Direction::Downstream, 20)
            },
        );
        assert_eq!(g.nodes.len(), 3);
        assert!(g.truncated);
        let r = ix.impact(ds(&ix, "a"), None, None, 2);
        assert_eq!(r.affected.len(), 2);
        assert!(r.truncated);
    }

    #[test]
    fn shortest_path_follows_the_edges() {
        let ix = diamond();
        let p = ix.shortest_path(ds(&ix, "a"), ds(&ix, "e"), None).unwrap();
        assert_eq!(p.len(), 7);
        assert!(ix.shortest_path(ds(&ix, "e"), ds(&ix, "a"), None).is_none());
    }

    #[test]
    fn a_deleted_node_appears_only_before_its_deletion() {
        let mut ix = diamond();
        ix.upsert_node(NodeKey::dataset("db", "c"), None, Some(500));
        let g = ix.lineage(ds(&ix, "a"), opts(Direction::Downstream, 20));
        assert!(!names(&ix, &g.nodes).contains(&"c".to_string()));
        let g = ix.lineage(
            ds(&ix, "a"),
            TraverseOptions {
                as_of: Some(400),
                ..opts(Direction::Downstream, 20)
            },
        );
        assert!(names(&ix, &g.nodes).contains(&"c".to_string()));
    }
}
