//! `/lineage?nodeId=…`: the lineage explorer. Everything a view needs is in the URL: depth,
//! direction, asOf, mode (explore or impact), the impact target, the selected node, expansions
//! and the impact type filter.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { fetchImpact, fetchJobStates, fetchLineage } from '../api';
import { useAsync } from '../hooks';
import { nodeId as makeNodeId, parseNodeId, urls } from '../nodeId';
import { Link, navigate, useLocation, withQuery } from '../router';
import { downstream, edgeKey, mergeGraphs } from '../graph/model';
import { layoutGraph, loadDagre, type Layout } from '../graph/layout';
import { GraphView } from '../graph/GraphView';
import { KindIcon } from '../components/Badges';
import { Empty, ErrorBox, Loading } from '../components/States';
import { ImpactPanel } from '../components/ImpactPanel';
import { Legend } from '../components/Legend';
import { TimeControl } from '../components/TimeControl';
import { SearchBox } from '../components/SearchBox';
import { DatasetDetail } from '../details/DatasetDetail';
import { JobDetail } from '../details/JobDetail';
import { formatTime } from '../format';
import type { Direction, LineageGraph, LineageNode } from '../types';

export const DEPTHS = [1, 2, 4, 6, 8, 10, 12, 16, 20];
export const DEFAULT_DEPTH = 6;
const DIRECTIONS: Direction[] = ['BOTH', 'UPSTREAM', 'DOWNSTREAM'];

function nodeFor(graph: LineageGraph | null, id: string): LineageNode | null {
  const found = graph?.nodes.find((n) => n.id === id);
  if (found) return found;
  const p = parseNodeId(id);
  return p ? { id, kind: p.kind, namespace: p.namespace, name: p.name } : null;
}

function NodePanel({
  node,
  isRoot,
  expanded,
  onExpand,
  onImpact,
}: {
  node: LineageNode;
  isRoot: boolean;
  expanded: boolean;
  onExpand: () => void;
  onImpact: () => void;
}) {
  return (
    <div className="panel-node">
      <div className="panel-title">
        <KindIcon kind={node.kind} datasetType={node.datasetType} />
        <div className="panel-title-text">
          <h2 title={node.name}>{node.name}</h2>
          <div className="muted mono small" title={node.namespace}>
            {node.namespace}
          </div>
        </div>
      </div>
      <div className="panel-actions">
        <button type="button" className="btn btn-small" onClick={onExpand} disabled={expanded || isRoot} title="Add this node's neighbours to the graph">
          {expanded ? 'Expanded' : 'Expand'}
        </button>
        {!isRoot && (
          <Link className="btn btn-small" to={urls.lineage(node.id)} title="Redraw the graph around this node">
            Center here
          </Link>
        )}
        <button type="button" className="btn btn-small" onClick={onImpact} title="What is downstream of this node">
          Impact
        </button>
        <Link className="btn btn-small" to={urls.node(node.kind, node.namespace, node.name)}>
          Open page
        </Link>
      </div>
      {node.kind === 'DATASET' ? (
        <DatasetDetail key={node.id} ns={node.namespace} name={node.name} />
      ) : (
        <JobDetail key={node.id} ns={node.namespace} name={node.name} />
      )}
    </div>
  );
}

export default function LineagePage() {
  const loc = useLocation();
  const q = loc.query;
  const root = q.get('nodeId') ?? '';
  const depthParam = Number(q.get('depth'));
  const depth = DEPTHS.includes(depthParam) ? depthParam : DEFAULT_DEPTH;
  const dirParam = (q.get('direction') ?? '').toUpperCase() as Direction;
  const direction: Direction = DIRECTIONS.includes(dirParam) ? dirParam : 'BOTH';
  const asOf = q.get('asOf');
  const impactMode = q.get('mode') === 'impact';
  const target = q.get('target') ?? root;
  const selected = q.get('sel') ?? root;
  const expandedKey = q.getAll('expand').join('\n');
  const expanded = useMemo(() => (expandedKey ? expandedKey.split('\n') : []), [expandedKey]);
  const types = useMemo(() => (q.get('types') ?? '').split(',').filter(Boolean), [q]);
  const [panelOpen, setPanelOpen] = useState(true);
  const [showLegend, setShowLegend] = useState(true);

  const set = useCallback(
    (changes: Record<string, string | string[] | null>) =>
      navigate(withQuery({ path: window.location.pathname, segments: [], query: new URLSearchParams(window.location.search) }, changes), {
        replace: true,
      }),
    [],
  );

  useEffect(() => void loadDagre(), []);
  const base = useAsync(
    (signal) => (root ? fetchLineage({ nodeId: root, direction, depth, asOf }, signal) : Promise.resolve(null)),
    [root, direction, depth, asOf],
  );

  // Expansions: each expanded node's neighbours (depth 1), fetched once per asOf.
  const [extra, setExtra] = useState<Record<string, LineageGraph | Error>>({});
  const inflight = useRef(new Set<string>());
  const keyOf = useCallback((id: string) => `${asOf ?? ''}|${id}`, [asOf]);
  useEffect(() => {
    for (const id of expanded) {
      const key = keyOf(id);
      if (key in extra || inflight.current.has(key)) continue;
      inflight.current.add(key);
      fetchLineage({ nodeId: id, direction: 'BOTH', depth: 1, asOf })
        .then(
          (g) => setExtra((x) => ({ ...x, [key]: g })),
          (e: Error) => setExtra((x) => ({ ...x, [key]: e })),
        )
        .finally(() => inflight.current.delete(key));
    }
  }, [expanded, extra, keyOf, asOf]);
  const pending = expanded.some((id) => !(keyOf(id) in extra));
  const expandErrors = expanded.map((id) => extra[keyOf(id)]).filter((x): x is Error => x instanceof Error);

  const graph = useMemo(() => {
    if (base.status !== 'ok' || !base.data) return null;
    let g = base.data;
    for (const id of expanded) {
      const x = extra[keyOf(id)];
      if (x && !(x instanceof Error)) g = mergeGraphs(g, x);
    }
    return g;
  }, [base, expanded, extra, keyOf]);

  const [layout, setLayout] = useState<Layout | null>(null);
  const [layoutError, setLayoutError] = useState<Error | null>(null);
  const [layingOut, setLayingOut] = useState(false);
  const [layoutMs, setLayoutMs] = useState<number | null>(null);
  useEffect(() => {
    if (!graph) return;
    let alive = true;
    setLayingOut(true);
    const t0 = performance.now();
    layoutGraph(graph).then(
      (l) => {
        if (!alive) return;
        setLayoutMs(Math.round(performance.now() - t0));
        setLayout(l);
        setLayoutError(null);
        setLayingOut(false);
      },
      (e: Error) => {
        if (!alive) return;
        setLayoutError(e);
        setLayingOut(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [graph]);

  // Run states come after the drawing; a failure only leaves jobs grey.
  const jobIds = useMemo(
    () => (graph?.nodes ?? []).filter((n) => n.kind === 'JOB').map((n) => n.id).sort().join('\n'),
    [graph],
  );
  const states = useAsync(
    (signal) => (jobIds ? fetchJobStates(jobIds.split('\n'), signal) : Promise.resolve(new Map())),
    [jobIds],
  );

  const impact = useAsync(
    (signal) => (impactMode && target ? fetchImpact({ nodeId: target, asOf }, signal) : Promise.resolve(null)),
    [impactMode, target, asOf],
  );

  const highlight = useMemo(() => {
    if (!impactMode || !graph) return null;
    const d = downstream(graph, target);
    if (impact.status === 'ok' && impact.data) {
      for (const a of impact.data.affected) {
        a.path.forEach((id, i) => {
          d.nodes.add(id);
          if (i > 0) d.edges.add(edgeKey({ source: a.path[i - 1], target: id }));
        });
      }
    }
    return d;
  }, [impactMode, graph, target, impact]);

  const marks = useMemo(
    () => ({
      selected: impactMode ? null : selected,
      root,
      highlightNodes: highlight?.nodes ?? null,
      highlightEdges: highlight?.edges ?? null,
      focus: impactMode ? target : null,
      runStates: states.status === 'ok' ? states.data : undefined,
    }),
    [impactMode, selected, root, highlight, target, states],
  );

  const onSelect = useCallback(
    (id: string | null) => {
      if (impactMode) {
        if (id) set({ target: id === root ? null : id });
      } else set({ sel: id && id !== root ? id : null });
    },
    [impactMode, root, set],
  );
  const onExpand = useCallback(
    (id: string) => {
      const cur = new URLSearchParams(window.location.search).getAll('expand');
      if (!cur.includes(id) && id !== root) set({ expand: [...cur, id] });
    },
    [root, set],
  );

  if (!root) {
    return (
      <div className="page page-narrow">
        <Empty title="Pick a node">Search for a dataset or job to see its lineage.</Empty>
        <SearchBox inline autoFocus />
      </div>
    );
  }

  const rootNode = nodeFor(graph, root);
  const targetNode = nodeFor(graph, target);
  const selNode = nodeFor(graph, selected);

  return (
    <div className="explorer">
      <div className="toolbar" role="toolbar" aria-label="Lineage controls">
        <div className="toolbar-title">
          {rootNode && <KindIcon kind={rootNode.kind} datasetType={rootNode.datasetType} />}
          <div className="toolbar-name">
            <strong title={rootNode?.name ?? root}>{rootNode?.name ?? root}</strong>
            <span className="muted mono small" title={rootNode?.namespace}>
              {rootNode?.namespace}
            </span>
          </div>
        </div>
        <div className="segmented" role="group" aria-label="Mode">
          <button type="button" className={!impactMode ? 'on' : ''} aria-pressed={!impactMode} onClick={() => set({ mode: null, target: null })}>
            Explore
          </button>
          <button type="button" className={impactMode ? 'on' : ''} aria-pressed={impactMode} onClick={() => set({ mode: 'impact' })}>
            Impact
          </button>
        </div>
        <label className="field field-inline">
          <span>Direction</span>
          <select aria-label="Direction" value={direction} onChange={(e) => set({ direction: e.target.value === 'BOTH' ? null : e.target.value })}>
            <option value="BOTH">Both</option>
            <option value="UPSTREAM">Upstream</option>
            <option value="DOWNSTREAM">Downstream</option>
          </select>
        </label>
        <label className="field field-inline">
          <span>Depth</span>
          <select aria-label="Depth" value={depth} onChange={(e) => set({ depth: Number(e.target.value) === DEFAULT_DEPTH ? null : e.target.value })}>
            {DEPTHS.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <TimeControl asOf={asOf} onChange={(v) => set({ asOf: v })} />
        <div className="toolbar-right">
          <button type="button" className="btn btn-small" aria-pressed={panelOpen} onClick={() => setPanelOpen((s) => !s)}>
            {panelOpen ? 'Hide panel' : 'Panel'}
          </button>
        </div>
      </div>
      {graph?.truncated ? (
        <div className="banner banner-warn" role="status" data-testid="truncated">
          Truncated: the server stopped at its node limit, so this graph is incomplete. Lower the depth or pick a single
          direction to see all of a smaller part.
        </div>
      ) : null}
      {asOf && (
        <div className="banner banner-info" role="status">
          Showing the graph as it was at <strong>{formatTime(asOf)}</strong>.{' '}
          <button type="button" className="btn-link" onClick={() => set({ asOf: null })}>
            Back to now
          </button>
        </div>
      )}
      {expandErrors.length > 0 && <ErrorBox title="Could not expand a node" error={expandErrors[0]} />}
      <div className={`explorer-body${panelOpen ? ' with-panel' : ''}`}>
        <div className="canvas">
          {base.status === 'error' ? (
            <ErrorBox title="Could not load the lineage" error={base.error} />
          ) : layoutError ? (
            <ErrorBox title="Could not lay the graph out" error={layoutError} />
          ) : (
            <>
              <GraphView layout={layout} layoutMs={layoutMs} marks={marks} onSelect={onSelect} onExpand={onExpand} busy={base.status === 'loading' || layingOut || pending} />
              {(base.status === 'loading' || layingOut || pending) && (
                <div className="canvas-overlay">
                  <Loading label={base.status === 'loading' ? 'Loading lineage…' : pending ? 'Expanding…' : `Laying out ${graph?.nodes.length ?? ''} nodes…`} />
                </div>
              )}
              {graph && graph.nodes.length <= 1 && base.status === 'ok' && !layingOut && (
                <div className="canvas-overlay">
                  <Empty title="No lineage">
                    Nothing reads or writes this node{asOf ? ' at that time' : ''}
                    {direction !== 'BOTH' ? ` ${direction.toLowerCase()}` : ''}.
                  </Empty>
                </div>
              )}
              {graph && (
                <div className="canvas-info">
                  <span data-testid="graph-count">
                    {graph.nodes.length} nodes · {graph.edges.length} edges
                  </span>
                  <button type="button" className="btn-link" aria-pressed={showLegend} onClick={() => setShowLegend((s) => !s)}>
                    {showLegend ? 'Hide legend' : 'Legend'}
                  </button>
                </div>
              )}
              {showLegend && <Legend impact={impactMode} />}
            </>
          )}
        </div>
        {panelOpen && (
          <aside className="panel" aria-label={impactMode ? 'Impact' : 'Details'}>
            {impactMode ? (
              <div className="panel-impact">
                <div className="panel-title">
                  <div className="panel-title-text">
                    <h2>Impact{targetNode ? ` of ${targetNode.name}` : ''}</h2>
                    <div className="muted small">What breaks if this changes. Click a node in the graph to analyse it instead.</div>
                  </div>
                </div>
                {impact.status === 'loading' && <Loading label="Walking downstream…" />}
                {impact.status === 'error' && <ErrorBox title="Could not compute the impact" error={impact.error} />}
                {impact.status === 'ok' && impact.data && (
                  <ImpactPanel
                    impact={impact.data}
                    targetName={targetNode?.name ?? target}
                    types={types}
                    asOf={asOf}
                    onTypes={(t) => set({ types: t.length ? t.join(',') : null })}
                    onPick={(id) => {
                      const n = nodeFor(graph, id);
                      if (graph?.nodes.some((x) => x.id === id)) set({ mode: null, target: null, sel: id });
                      else if (n) navigate(urls.lineage(makeNodeId(n.kind, n.namespace, n.name)));
                    }}
                  />
                )}
              </div>
            ) : selNode ? (
              <NodePanel
                node={selNode}
                isRoot={selNode.id === root}
                expanded={expanded.includes(selNode.id)}
                onExpand={() => onExpand(selNode.id)}
                onImpact={() => set({ mode: 'impact', target: selNode.id === root ? null : selNode.id })}
              />
            ) : (
              <Empty title="Nothing selected">Click a node to see its details.</Empty>
            )}
          </aside>
        )}
      </div>
    </div>
  );
}
