import { describe, expect, it } from 'vitest';
import { nodeId, parseNodeId, urls } from './nodeId';

describe('node ids', () => {
  it('keep the colons of a namespace with a scheme and a port', () => {
    expect(parseNodeId('dataset:postgres://db:5432:public.orders')).toEqual({
      kind: 'DATASET',
      namespace: 'postgres://db:5432',
      name: 'public.orders',
    });
  });
  it('split a plain namespace from its name', () => {
    expect(parseNodeId('job:etl:load_orders')).toEqual({ kind: 'JOB', namespace: 'etl', name: 'load_orders' });
    expect(parseNodeId(nodeId('DATASET', 's3://bucket', 'path/file'))).toEqual({
      kind: 'DATASET',
      namespace: 's3://bucket',
      name: 'path/file',
    });
  });
  it('refuse what is not a dataset or job id', () => {
    expect(parseNodeId('run:123')).toBeNull();
    expect(parseNodeId('dataset:nocolon')).toBeNull();
  });
  it('URL-encode each path segment', () => {
    expect(urls.dataset('postgres://db:5432', 'a/b c')).toBe('/datasets/postgres%3A%2F%2Fdb%3A5432/a%2Fb%20c');
    expect(urls.datasetDiff('n', 'd', 'v1', 'v2')).toBe('/datasets/n/d/diff?from=v1&to=v2');
  });
});
