//! The graph the explorer draws: merging answers (expand in place), and walks over it.

import type { LineageEdge, LineageGraph, LineageNode, RunState } from '../types';

export const edgeKey = (e: LineageEdge) => `${e.source}\u0000${e.target}`;

/** The union of two graphs: nodes by id (later facts fill gaps), edges by (source, target). */
export function mergeGraphs(a: LineageGraph, b: LineageGraph): LineageGraph {
  const nodes = new Map<string, LineageNode>();
  for (const n of a.nodes) nodes.set(n.id, n);
  for (const n of b.nodes) {
    const old = nodes.get(n.id);
    nodes.set(n.id, old ? { ...old, ...stripNullish(n) } : n);
  }
  const edges = new Map<string, LineageEdge>();
  for (const e of [...a.edges, ...b.edges]) edges.set(edgeKey(e), e);
  // Edges are only kept when both ends are known.
  const kept = [...edges.values()].filter((e) => nodes.has(e.source) && nodes.has(e.target));
  return { nodes: [...nodes.values()], edges: kept, truncated: a.truncated || b.truncated };
}

function stripNullish<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export function withRunStates(g: LineageGraph, states: Map<string, RunState>): LineageGraph {
  if (states.size === 0) return g;
  return { ...g, nodes: g.nodes.map((n) => (states.has(n.id) ? { ...n, runState: states.get(n.id) } : n)) };
}

/** Every node reachable from `start` along edges (start included), with the edges walked. */
export function downstream(g: LineageGraph, start: string): { nodes: Set<string>; edges: Set<string> } {
  const out = new Map<string, LineageEdge[]>();
  for (const e of g.edges) {
    const list = out.get(e.source);
    if (list) list.push(e);
    else out.set(e.source, [e]);
  }
  const nodes = new Set<string>([start]);
  const edges = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const e of out.get(id) ?? []) {
      edges.add(edgeKey(e));
      if (!nodes.has(e.target)) {
        nodes.add(e.target);
        queue.push(e.target);
      }
    }
  }
  return { nodes, edges };
}

/** Nodes with edges in the graph that are not drawn yet on the given side (can be expanded). */
export function degree(g: LineageGraph): Map<string, { in: number; out: number }> {
  const d = new Map<string, { in: number; out: number }>();
  for (const n of g.nodes) d.set(n.id, { in: 0, out: 0 });
  for (const e of g.edges) {
    const s = d.get(e.source);
    const t = d.get(e.target);
    if (s) s.out++;
    if (t) t.in++;
  }
  return d;
}
