//! Impact list logic: dataset types, filtering, ordering and CSV export.

import type { Affected } from '../types';

/** The label used for datasets with no `datasetType` facet. */
export const NO_TYPE = '(no type)';

export function typeOf(a: Affected): string {
  return a.node.datasetType?.trim() ? a.node.datasetType.toUpperCase() : NO_TYPE;
}

/** Dataset types present in the list, with counts, most frequent first then by name. */
export function impactTypes(affected: Affected[]): { type: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const a of affected) counts.set(typeOf(a), (counts.get(typeOf(a)) ?? 0) + 1);
  return [...counts.entries()]
    .map(([type, count]) => ({ type, count }))
    .sort((x, y) => y.count - x.count || x.type.localeCompare(y.type));
}

/** The affected datasets whose type is in `types` (all when empty), nearest first. */
export function filterAffected(affected: Affected[], types: string[]): Affected[] {
  const keep = new Set(types.map((t) => t.toUpperCase()));
  return affected
    .filter((a) => a.node.kind === 'DATASET' && (keep.size === 0 || keep.has(typeOf(a).toUpperCase())))
    .sort(
      (x, y) =>
        x.distance - y.distance ||
        x.node.namespace.localeCompare(y.node.namespace) ||
        x.node.name.localeCompare(y.node.name),
    );
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV of an impact list, one row per affected dataset. */
export function impactCsv(rows: Affected[]): string {
  const header = ['distance', 'dataset_type', 'namespace', 'name', 'node_id', 'path'];
  const lines = [header.join(',')];
  for (const a of rows) {
    lines.push(
      [a.distance, typeOf(a) === NO_TYPE ? '' : typeOf(a), a.node.namespace, a.node.name, a.node.id, a.path.join(' > ')]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves text as a file through a Blob link (no server round trip). */
export function downloadText(filename: string, text: string, type = 'text/csv;charset=utf-8') {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A file name for the impact of a node: `impact-orders-2024-03-15.csv`. */
export function impactFileName(nodeName: string, asOf?: string | null): string {
  const base = nodeName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || 'node';
  return `impact-${base}${asOf ? `-${asOf.slice(0, 10)}` : ''}.csv`;
}
