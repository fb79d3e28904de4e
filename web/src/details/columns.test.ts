import { describe, expect, it } from 'vitest';
import { fieldLineage } from './columns';
import type { ColumnNode } from '../api';

const f = (ns: string, ds: string, field: string) => `datasetField:${ns}:${ds}:${field}`;
const node = (ns: string, ds: string, field: string, ins: string[], outs: string[] = []): ColumnNode => ({
  id: f(ns, ds, field),
  type: 'DATASET_FIELD',
  data: { namespace: ns, dataset: ds, field },
  inEdges: ins.map((origin) => ({ origin, destination: f(ns, ds, field) })),
  outEdges: outs.map((destination) => ({ origin: f(ns, ds, field), destination })),
});

// raw.id → orders.id → churn.customer_id ; orders.amount + orders.id → churn.score
const graph: ColumnNode[] = [
  node('ml', 'churn', 'score', [f('pg://db:5432', 'orders', 'amount'), f('pg://db:5432', 'orders', 'id')]),
  node('ml', 'churn', 'customer_id', [f('pg://db:5432', 'orders', 'id')]),
  node('pg://db:5432', 'orders', 'id', [f('pg://db:5432', 'raw', 'id')], [f('ml', 'churn', 'score')]),
  node('pg://db:5432', 'orders', 'amount', []),
  node('pg://db:5432', 'raw', 'id', []),
];

describe('fieldLineage', () => {
  it('gives each field of the dataset its direct inputs and the inputs further up', () => {
    const rows = fieldLineage(graph, 'ml', 'churn');
    expect(rows.map((r) => r.field)).toEqual(['customer_id', 'score']);
    const score = rows[1];
    expect(score.from.map((x) => `${x.namespace} ${x.dataset}.${x.field}`)).toEqual([
      'pg://db:5432 orders.amount',
      'pg://db:5432 orders.id',
    ]);
    expect(score.upstream).toEqual([{ ref: expect.objectContaining({ dataset: 'raw', field: 'id' }), distance: 2 }]);
  });
  it('lists the fields made from a field', () => {
    const rows = fieldLineage(graph, 'pg://db:5432', 'orders');
    expect(rows.find((r) => r.field === 'id')?.to.map((x) => x.field)).toEqual(['score']);
  });
  it('is empty for a dataset the answer does not mention', () => {
    expect(fieldLineage(graph, 'x', 'y')).toEqual([]);
  });
});
