//! Node ids (`dataset:{namespace}:{name}`, `job:{namespace}:{name}`) and the app's URLs for them.

import type { NodeKind } from './types';

export function nodeId(kind: NodeKind, namespace: string, name: string): string {
  return `${kind === 'DATASET' ? 'dataset' : 'job'}:${namespace}:${name}`;
}

/**
 * Splits a node id into kind, namespace and name. Namespaces may contain colons
 * (`postgres://db:5432`), so the name is what follows the last colon that is not part of a
 * `host:port` authority or a URI scheme.
 */
export function parseNodeId(id: string): { kind: NodeKind; namespace: string; name: string } | null {
  const m = /^(dataset|job):(.*)$/.exec(id);
  if (!m) return null;
  const kind: NodeKind = m[1] === 'dataset' ? 'DATASET' : 'JOB';
  const rest = m[2];
  // Candidate split points: every colon not followed by "//" (scheme) and not followed by a port
  // number that runs to the next colon or slash.
  let cut = -1;
  for (let i = rest.length - 1; i >= 0; i--) {
    if (rest[i] !== ':') continue;
    const after = rest.slice(i + 1);
    if (after.startsWith('//')) continue;
    if (/^\d+:/.test(after) && i > 0) {
      // `host:5432:name` — the colon before the port belongs to the namespace.
      continue;
    }
    cut = i;
    break;
  }
  if (cut <= 0) return null;
  return { kind, namespace: rest.slice(0, cut), name: rest.slice(cut + 1) };
}

const enc = encodeURIComponent;

export const urls = {
  home: (q?: string) => (q ? `/?q=${enc(q)}` : '/'),
  lineage: (id: string) => `/lineage?nodeId=${enc(id)}`,
  dataset: (ns: string, name: string) => `/datasets/${enc(ns)}/${enc(name)}`,
  datasetDiff: (ns: string, name: string, from: string, to: string) =>
    `/datasets/${enc(ns)}/${enc(name)}/diff?from=${enc(from)}&to=${enc(to)}`,
  columns: (ns: string, name: string) => `/datasets/${enc(ns)}/${enc(name)}/columns`,
  job: (ns: string, name: string) => `/jobs/${enc(ns)}/${enc(name)}`,
  run: (id: string) => `/runs/${enc(id)}`,
  events: () => '/events',
  node: (kind: NodeKind, ns: string, name: string) =>
    kind === 'DATASET' ? urls.dataset(ns, name) : urls.job(ns, name),
};
