//! Column lineage from the Marquez-shaped answer: for each field of a dataset, the fields it
//! comes from (directly and further up) and the fields made from it.

import type { ColumnNode } from '../api';

export interface FieldRef {
  id: string;
  namespace: string;
  dataset: string;
  field: string;
}

export interface FieldLineage {
  field: string;
  type?: string | null;
  transformation?: string | null;
  /** Direct inputs. */
  from: FieldRef[];
  /** Inputs of inputs, with their distance (2 = an input of an input). */
  upstream: { ref: FieldRef; distance: number }[];
  /** Fields made directly from this one. */
  to: FieldRef[];
}

function refOf(id: string, byId: Map<string, ColumnNode>): FieldRef {
  const d = byId.get(id)?.data;
  if (d?.namespace && d.dataset && d.field) return { id, namespace: d.namespace, dataset: d.dataset, field: d.field };
  // `datasetField:{ns}:{dataset}:{field}`; without node data, the field is after the last colon.
  const rest = id.replace(/^datasetField:/, '');
  const f = rest.lastIndexOf(':');
  return { id, namespace: '', dataset: rest.slice(0, f), field: rest.slice(f + 1) };
}

export function fieldLineage(graph: ColumnNode[], namespace: string, dataset: string): FieldLineage[] {
  const byId = new Map(graph.map((n) => [n.id, n]));
  const origins = (id: string) => (byId.get(id)?.inEdges ?? []).map((e) => e.origin).filter((o) => o !== id);
  const mine = graph.filter((n) => n.data?.namespace === namespace && n.data?.dataset === dataset);
  return mine
    .map((n) => {
      const from = origins(n.id);
      const seen = new Set<string>([n.id, ...from]);
      const upstream: { ref: FieldRef; distance: number }[] = [];
      let frontier = from;
      for (let distance = 2; frontier.length > 0 && distance < 50; distance++) {
        const next: string[] = [];
        for (const id of frontier)
          for (const o of origins(id))
            if (!seen.has(o)) {
              seen.add(o);
              next.push(o);
              upstream.push({ ref: refOf(o, byId), distance });
            }
        frontier = next;
      }
      return {
        field: n.data?.field ?? refOf(n.id, byId).field,
        type: n.data?.fieldType ?? null,
        transformation: n.data?.transformationDescription ?? n.data?.transformationType ?? null,
        from: from.map((o) => refOf(o, byId)),
        upstream,
        to: (n.outEdges ?? []).map((e) => e.destination).filter((d) => d !== n.id).map((d) => refOf(d, byId)),
      };
    })
    .sort((a, b) => a.field.localeCompare(b.field));
}
