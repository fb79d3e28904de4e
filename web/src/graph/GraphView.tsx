//! The lineage drawing: SVG nodes and edges with zoom, pan, fit and a minimap.

import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState, type PointerEvent as RPointerEvent } from 'react';
import { RUN_STATE_COLOURS } from '../components/Badges';
import { edgeKey } from './model';
import type { Layout, PlacedEdge, PlacedNode } from './layout';
import type { RunState } from '../types';

export interface View {
  k: number;
  x: number;
  y: number;
}

const MIN_K = 0.05;
/** Below this zoom labels are unreadable, so they are not drawn (a big graph draws faster). */
export const LABEL_MIN_K = 0.3;
const MAX_K = 2.5;
const clampK = (k: number) => Math.min(MAX_K, Math.max(MIN_K, k));

/** The transform that shows the whole layout in a viewport of the given size. */
export function fitView(layout: { width: number; height: number }, vw: number, vh: number, maxK = 1.2): View {
  const pad = 24;
  const k = clampK(Math.min((vw - pad * 2) / layout.width, (vh - pad * 2) / layout.height, maxK));
  return { k, x: (vw - layout.width * k) / 2, y: (vh - layout.height * k) / 2 };
}

export function edgePath(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  if (points.length === 2) return `M${points[0].x},${points[0].y}L${points[1].x},${points[1].y}`;
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const mx = (points[i].x + points[i + 1].x) / 2;
    const my = (points[i].y + points[i + 1].y) / 2;
    d += `Q${points[i].x},${points[i].y} ${mx},${my}`;
  }
  const last = points[points.length - 1];
  return `${d}L${last.x},${last.y}`;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function isModel(n: { kind: string; datasetType?: string | null }) {
  return n.kind === 'DATASET' && n.datasetType?.toUpperCase() === 'MODEL';
}

interface Marks {
  selected?: string | null;
  root?: string | null;
  /** When set, nodes and edges outside these sets are dimmed. */
  highlightNodes?: Set<string> | null;
  highlightEdges?: Set<string> | null;
  /** A node drawn as the origin of the highlight. */
  focus?: string | null;
  /** Latest run state of jobs. */
  runStates?: Map<string, RunState>;
}

const NodeShape = memo(function NodeShape({
  p,
  selected,
  root,
  dim,
  hot,
  focus,
  runState,
  detail,
}: {
  p: PlacedNode;
  /** Draw the labels (skipped when zoomed out too far to read them). */
  detail: boolean;
  runState?: RunState;
  selected: boolean;
  root: boolean;
  dim: boolean;
  hot: boolean;
  focus: boolean;
}) {
  const n = runState ? { ...p.node, runState } : p.node;
  const cls = [
    'gnode',
    n.kind === 'JOB' ? 'gnode-job' : isModel(n) ? 'gnode-model' : 'gnode-dataset',
    selected ? 'selected' : '',
    root ? 'root' : '',
    dim ? 'dim' : '',
    hot ? 'hot' : '',
    focus ? 'focus' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const stateColour = n.kind === 'JOB' ? (n.runState ? RUN_STATE_COLOURS[n.runState] : '#94a3b8') : undefined;
  return (
    <g className={cls} transform={`translate(${p.x},${p.y})`} data-node-id={n.id} data-kind={n.kind}>
      <title>{`${n.kind === 'JOB' ? 'Job' : isModel(n) ? 'Model' : 'Dataset'} ${n.namespace} ${n.name}${n.runState ? ` — latest run ${n.runState}` : ''}`}</title>
      {n.kind === 'JOB' ? (
        <>
          <rect className="gnode-body" width={p.w} height={p.h} rx={p.h / 2} />
          <circle cx={p.h / 2} cy={p.h / 2} r={9} fill={stateColour} className="gnode-state" />
          {detail && (
            <>
              <text className="gnode-name" x={p.h - 2} y={17}>
                {clip(n.name, 25)}
              </text>
              <text className="gnode-ns" x={p.h - 2} y={31}>
                {clip(n.namespace, 29)}
              </text>
            </>
          )}
        </>
      ) : (
        <>
          <rect className="gnode-body" width={p.w} height={p.h} rx={6} />
          <rect className="gnode-band" width={6} height={p.h} rx={3} />
          {detail && (
            <>
              <text className="gnode-name" x={14} y={19}>
                {clip(n.name, 28)}
              </text>
              <text className="gnode-ns" x={14} y={35}>
                {clip(n.namespace + (n.datasetType ? ` · ${n.datasetType}` : ''), 32)}
              </text>
            </>
          )}
        </>
      )}
    </g>
  );
});

const EdgeShape = memo(function EdgeShape({ e, dim, hot, sel }: { e: PlacedEdge; dim: boolean; hot: boolean; sel: boolean }) {
  return (
    <path
      className={`gedge${dim ? ' dim' : ''}${hot ? ' hot' : ''}${sel ? ' sel' : ''}`}
      d={edgePath(e.points)}
      markerEnd={hot ? 'url(#arrow-hot)' : 'url(#arrow)'}
    />
  );
});

const Scene = memo(function Scene({ layout, marks, detail }: { layout: Layout; marks: Marks; detail: boolean }) {
  const hl = marks.highlightNodes;
  const he = marks.highlightEdges;
  return (
    <>
      <g className="gedges">
        {layout.edges.map((e) => {
          const key = edgeKey(e);
          const hot = !!he?.has(key);
          const sel = !!marks.selected && (e.source === marks.selected || e.target === marks.selected);
          return <EdgeShape key={key} e={e} hot={hot} dim={!!he && !hot} sel={sel} />;
        })}
      </g>
      <g className="gnodes">
        {layout.nodes.map((p) => {
          const hot = !!hl?.has(p.node.id);
          return (
            <NodeShape
              key={p.node.id}
              p={p}
              selected={marks.selected === p.node.id}
              root={marks.root === p.node.id}
              dim={!!hl && !hot}
              hot={hot && marks.focus !== p.node.id}
              focus={marks.focus === p.node.id}
              runState={marks.runStates?.get(p.node.id)}
              detail={detail}
            />
          );
        })}
      </g>
    </>
  );
});

const MinimapNodes = memo(function MinimapNodes({ layout, marks }: { layout: Layout; marks: Marks }) {
  return (
    <>
      {layout.nodes.map((p) => (
        <rect
          key={p.node.id}
          x={p.x}
          y={p.y}
          width={p.w}
          height={p.h}
          className={`mm-node ${p.node.kind === 'JOB' ? 'mm-job' : isModel(p.node) ? 'mm-model' : 'mm-dataset'}${
            marks.highlightNodes?.has(p.node.id) ? ' hot' : ''
          }`}
        />
      ))}
    </>
  );
});

const Minimap = memo(function Minimap({
  layout,
  view,
  size,
  onCenter,
  marks,
}: {
  layout: Layout;
  view: View;
  size: { w: number; h: number };
  onCenter: (x: number, y: number) => void;
  marks: Marks;
}) {
  const W = 180;
  const H = 110;
  const s = Math.min(W / layout.width, H / layout.height);
  const mw = layout.width * s;
  const mh = layout.height * s;
  const dragging = useRef(false);
  const toLayout = (e: RPointerEvent<SVGSVGElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    onCenter((e.clientX - r.left) / s, (e.clientY - r.top) / s);
  };
  const vx = -view.x / view.k;
  const vy = -view.y / view.k;
  return (
    <svg
      className="minimap"
      width={mw}
      height={mh}
      aria-label="Minimap"
      onPointerDown={(e) => {
        dragging.current = true;
        e.currentTarget.setPointerCapture(e.pointerId);
        toLayout(e);
      }}
      onPointerMove={(e) => dragging.current && toLayout(e)}
      onPointerUp={() => (dragging.current = false)}
    >
      <g transform={`scale(${s})`}>
        <MinimapNodes layout={layout} marks={marks} />
        <rect
          className="mm-view"
          x={vx}
          y={vy}
          width={size.w / view.k}
          height={size.h / view.k}
          strokeWidth={1.5 / s}
        />
      </g>
    </svg>
  );
});

export function GraphView({
  layout,
  marks,
  onSelect,
  onExpand,
  busy,
  layoutMs,
}: {
  layout: Layout | null;
  /** How long the layout took, exposed as `data-layout-ms` for the benchmark. */
  layoutMs?: number | null;
  marks: Marks;
  onSelect: (id: string | null) => void;
  onExpand: (id: string) => void;
  busy?: boolean;
}) {
  const wrap = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ w: 800, h: 600 });
  const [view, setView] = useState<View>({ k: 1, x: 0, y: 0 });
  const [drawn, setDrawn] = useState<Layout | null>(null);
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null);

  useLayoutEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const measure = () => setSize({ w: el.clientWidth || 800, h: el.clientHeight || 600 });
    measure();
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(measure) : null;
    ro?.observe(el);
    return () => ro?.disconnect();
  }, []);

  // A new layout is fitted to the viewport once it is drawn.
  useLayoutEffect(() => {
    if (!layout) return;
    setView(fitView(layout, wrap.current?.clientWidth || size.w, wrap.current?.clientHeight || size.h));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layout]);

  // `data-ready` tells tests and the benchmark that this layout is on screen.
  useEffect(() => {
    if (!layout) return;
    const id = requestAnimationFrame(() => setDrawn(layout));
    return () => cancelAnimationFrame(id);
  }, [layout]);

  const fit = useCallback(() => {
    if (layout) setView(fitView(layout, size.w, size.h));
  }, [layout, size]);

  const zoomAt = useCallback((factor: number, cx: number, cy: number) => {
    setView((v) => {
      const k = clampK(v.k * factor);
      const f = k / v.k;
      return { k, x: cx - (cx - v.x) * f, y: cy - (cy - v.y) * f };
    });
  }, []);

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), e.clientX - r.left, e.clientY - r.top);
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [zoomAt]);

  const nodeAt = (target: EventTarget | null): string | null => {
    const g = (target as Element | null)?.closest?.('[data-node-id]');
    return g ? g.getAttribute('data-node-id') : null;
  };

  const onPointerDown = (e: RPointerEvent<SVGSVGElement>) => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false };
  };
  const onPointerMove = (e: RPointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!d.moved) e.currentTarget.setPointerCapture(e.pointerId);
    d.moved = true;
    setView((v) => ({ ...v, x: d.vx + dx, y: d.vy + dy }));
  };
  const onPointerUp = (e: RPointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    drag.current = null;
    if (d && !d.moved) onSelect(nodeAt(e.target));
  };

  const center = useCallback(
    (x: number, y: number) => setView((v) => ({ ...v, x: size.w / 2 - x * v.k, y: size.h / 2 - y * v.k })),
    [size],
  );

  const ready = !!layout && drawn === layout && !busy;
  return (
    <div
      className="graph"
      ref={wrap}
      data-ready={ready ? 'true' : 'false'}
      data-node-count={layout?.nodes.length ?? 0}
      data-layout-ms={layoutMs ?? undefined}
      tabIndex={0}
      aria-label="Lineage graph"
      onKeyDown={(e) => {
        if (e.key === '+' || e.key === '=') zoomAt(1.2, size.w / 2, size.h / 2);
        else if (e.key === '-') zoomAt(1 / 1.2, size.w / 2, size.h / 2);
        else if (e.key === '0' || e.key === 'f') fit();
      }}
    >
      <svg
        className="graph-svg"
        width="100%"
        height="100%"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onDoubleClick={(e) => {
          const id = nodeAt(e.target);
          if (id) onExpand(id);
        }}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0L10,5L0,10z" className="arrow" />
          </marker>
          <marker id="arrow-hot" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0L10,5L0,10z" className="arrow-hot" />
          </marker>
        </defs>
        <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
          {layout && <Scene layout={layout} marks={marks} detail={view.k >= LABEL_MIN_K} />}
        </g>
      </svg>
      <div className="graph-controls" role="toolbar" aria-label="Zoom">
        <button type="button" className="btn btn-icon" title="Zoom in (+)" aria-label="Zoom in" onClick={() => zoomAt(1.25, size.w / 2, size.h / 2)}>
          +
        </button>
        <button type="button" className="btn btn-icon" title="Zoom out (−)" aria-label="Zoom out" onClick={() => zoomAt(0.8, size.w / 2, size.h / 2)}>
          −
        </button>
        <button type="button" className="btn btn-icon" title="Fit to screen (0)" aria-label="Fit" onClick={fit}>
          ⤢
        </button>
        <span className="zoom-level">{Math.round(view.k * 100)}%</span>
      </div>
      {layout && layout.nodes.length > 1 && (
        <div className="minimap-wrap">
          <Minimap layout={layout} view={view} size={size} onCenter={center} marks={marks} />
        </div>
      )}
    </div>
  );
}
