import { describe, expect, it } from 'vitest';
import { downstream, edgeKey, mergeGraphs } from './model';
import { layoutGraph } from './layout';
import { edgePath, fitView } from './GraphView';
import type { LineageGraph, LineageNode } from '../types';

const ds = (name: string, datasetType: string | null = null): LineageNode => ({
  id: `dataset:db:${name}`,
  kind: 'DATASET',
  namespace: 'db',
  name,
  datasetType,
});
const job = (name: string): LineageNode => ({ id: `job:etl:${name}`, kind: 'JOB', namespace: 'etl', name });
const e = (a: LineageNode, b: LineageNode) => ({ source: a.id, target: b.id });

const raw = ds('raw');
const orders = ds('orders');
const model = ds('churn', 'MODEL');
const load = job('load');
const train = job('train');
const report = job('report');
const daily = ds('daily');

// The first answer: raw → load → orders → train → churn
const base: LineageGraph = {
  nodes: [raw, load, orders, train, { ...model, datasetType: null }],
  edges: [e(raw, load), e(load, orders), e(orders, train), e(train, model)],
  truncated: false,
};
// Expanding `orders` at depth 1 brings its other reader, and repeats what is already there.
const expansion: LineageGraph = {
  nodes: [orders, load, train, report],
  edges: [e(load, orders), e(orders, train), e(orders, report)],
  truncated: false,
};

describe('mergeGraphs (expand in place)', () => {
  it('adds the new nodes and edges once, keeping the old ones', () => {
    const m = mergeGraphs(base, expansion);
    expect(m.nodes.map((n) => n.name).sort()).toEqual(['churn', 'load', 'orders', 'raw', 'report', 'train']);
    expect(m.edges).toHaveLength(5);
    expect(new Set(m.edges.map(edgeKey)).size).toBe(5);
  });
  it('fills facts a later answer knows without erasing them with nulls', () => {
    const m = mergeGraphs(base, { nodes: [model], edges: [], truncated: false });
    expect(m.nodes.find((n) => n.id === model.id)?.datasetType).toBe('MODEL');
    const back = mergeGraphs(m, { nodes: [{ ...model, datasetType: null }], edges: [], truncated: false });
    expect(back.nodes.find((n) => n.id === model.id)?.datasetType).toBe('MODEL');
  });
  it('drops edges to nodes it does not know and carries truncation', () => {
    const m = mergeGraphs(base, { nodes: [], edges: [e(orders, daily)], truncated: true });
    expect(m.edges.some((x) => x.target === daily.id)).toBe(false);
    expect(m.truncated).toBe(true);
  });
});

describe('downstream', () => {
  it('walks edges forward only, from the start node', () => {
    const m = mergeGraphs(base, expansion);
    const d = downstream(m, orders.id);
    expect([...d.nodes].sort()).toEqual([model.id, orders.id, report.id, train.id].sort());
    expect(d.edges.has(edgeKey(e(orders, report)))).toBe(true);
    expect(d.edges.has(edgeKey(e(load, orders)))).toBe(false);
  });
});

describe('layoutGraph', () => {
  it('places every node left to right along the edges', async () => {
    const l = await layoutGraph(mergeGraphs(base, expansion));
    expect(l.nodes).toHaveLength(6);
    const x = new Map(l.nodes.map((p) => [p.node.id, p.x]));
    for (const edge of l.edges) {
      expect(x.get(edge.source)!).toBeLessThan(x.get(edge.target)!);
      expect(edge.points.length).toBeGreaterThanOrEqual(2);
    }
    for (const p of l.nodes) {
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.x + p.w).toBeLessThanOrEqual(l.width + 0.5);
      expect(p.y + p.h).toBeLessThanOrEqual(l.height + 0.5);
    }
  });
  it('gives the merged graph a picture with the expanded node in it, whatever the input order', async () => {
    const merged = mergeGraphs(base, expansion);
    const a = await layoutGraph(merged);
    const b = await layoutGraph({ ...merged, nodes: [...merged.nodes].reverse(), edges: [...merged.edges].reverse() });
    const pos = (l: typeof a) => Object.fromEntries(l.nodes.map((p) => [p.node.id, [p.x, p.y]]));
    expect(pos(a)).toEqual(pos(b));
    expect(pos(a)[report.id]).toBeDefined();
    // `report` and `train` both read `orders`: same layer, different rows.
    expect(pos(a)[report.id][0]).toBe(pos(a)[train.id][0]);
    expect(pos(a)[report.id][1]).not.toBe(pos(a)[train.id][1]);
  });
  it('does not overlap nodes on a wide graph', async () => {
    const nodes: LineageNode[] = [raw];
    const edges = [];
    for (let i = 0; i < 30; i++) {
      const j = job(`j${i}`);
      const d = ds(`d${i}`);
      nodes.push(j, d);
      edges.push(e(raw, j), e(j, d));
    }
    const l = await layoutGraph({ nodes, edges, truncated: false });
    const boxes = l.nodes;
    for (let i = 0; i < boxes.length; i++)
      for (let k = i + 1; k < boxes.length; k++) {
        const a = boxes[i];
        const b = boxes[k];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap).toBe(false);
      }
  });
});

describe('view helpers', () => {
  it('fit centres the whole layout in the viewport and never zooms past the cap', () => {
    const v = fitView({ width: 1000, height: 500 }, 548, 548);
    expect(v.k).toBeCloseTo(0.5);
    expect(v.x).toBeCloseTo(24);
    expect(v.y).toBeCloseTo((548 - 250) / 2);
    expect(fitView({ width: 10, height: 10 }, 800, 600).k).toBe(1.2);
  });
  it('draws a path through the layout points', () => {
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 5 }])).toBe('M0,0L10,5');
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 20, y: 10 }])).toBe('M0,0Q10,0 15,5L20,10');
  });
});
