//! A collapsible JSON tree: objects and arrays fold, long values stay on one line.

import { useState } from 'react';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function summary(v: Json): string {
  if (Array.isArray(v)) return `[${v.length} ${v.length === 1 ? 'item' : 'items'}]`;
  if (v && typeof v === 'object') {
    const n = Object.keys(v).length;
    return `{${n} ${n === 1 ? 'key' : 'keys'}}`;
  }
  return '';
}

function Leaf({ value }: { value: Json }) {
  if (value === null) return <span className="json-null">null</span>;
  if (typeof value === 'string') return <span className="json-string">"{value}"</span>;
  if (typeof value === 'number') return <span className="json-number">{String(value)}</span>;
  return <span className="json-bool">{String(value)}</span>;
}

function Node({ name, value, depth, openDepth }: { name?: string; value: Json; depth: number; openDepth: number }) {
  const composite = value !== null && typeof value === 'object';
  const [open, setOpen] = useState(depth < openDepth);
  const label = name !== undefined ? <span className="json-key">{name}: </span> : null;
  if (!composite) {
    return (
      <div className="json-row">
        {label}
        <Leaf value={value} />
      </div>
    );
  }
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, Json>);
  return (
    <div className="json-node">
      <button
        type="button"
        className="json-toggle"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="json-caret">{open ? '▾' : '▸'}</span>
        {label}
        <span className="json-summary">{summary(value)}</span>
      </button>
      {open && (
        <div className="json-children">
          {entries.length === 0 ? (
            <div className="json-row json-empty">{Array.isArray(value) ? 'empty array' : 'empty object'}</div>
          ) : (
            entries.map(([k, v]) => <Node key={k} name={k} value={v} depth={depth + 1} openDepth={openDepth} />)
          )}
        </div>
      )}
    </div>
  );
}

/** Shows `value` as a tree; levels below `openDepth` start folded. */
export function JsonViewer({ value, openDepth = 1 }: { value: unknown; openDepth?: number }) {
  const [all, setAll] = useState<{ depth: number; key: number }>({ depth: openDepth, key: 0 });
  return (
    <div className="json-viewer">
      <div className="json-actions">
        <button type="button" className="btn btn-small" onClick={() => setAll((a) => ({ depth: 99, key: a.key + 1 }))}>
          Expand all
        </button>
        <button type="button" className="btn btn-small" onClick={() => setAll((a) => ({ depth: 0, key: a.key + 1 }))}>
          Collapse all
        </button>
        <button
          type="button"
          className="btn btn-small"
          onClick={() => void navigator.clipboard?.writeText(JSON.stringify(value, null, 2))}
        >
          Copy
        </button>
      </div>
      <div className="json-tree" key={all.key}>
        <Node value={(value ?? null) as Json} depth={0} openDepth={all.depth} />
      </div>
    </div>
  );
}
