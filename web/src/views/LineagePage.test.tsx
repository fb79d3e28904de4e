import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import LineagePage from './LineagePage';
import { mockFetch } from '../test/fetch';

const n = (id: string, kind: 'DATASET' | 'JOB', datasetType: string | null = null) => {
  const [, ns, name] = id.split(':');
  return { id, kind, namespace: ns, name, datasetType };
};
const ORDERS = 'dataset:db:orders';
const LOAD = 'job:etl:load';
const TRAIN = 'job:ml:train';
const MODEL = 'dataset:ml:churn';

const base = {
  nodes: [n(ORDERS, 'DATASET'), n(LOAD, 'JOB'), n(TRAIN, 'JOB')],
  edges: [
    { source: LOAD, target: ORDERS },
    { source: ORDERS, target: TRAIN },
  ],
  truncated: false,
};
const trainAround = {
  nodes: [n(ORDERS, 'DATASET'), n(TRAIN, 'JOB'), n(MODEL, 'DATASET', 'MODEL')],
  edges: [
    { source: ORDERS, target: TRAIN },
    { source: TRAIN, target: MODEL },
  ],
  truncated: true,
};

function serve() {
  const graphql: { nodeId: string; depth: number; asOf: string | null }[] = [];
  const states: string[][] = [];
  const mock = mockFetch({
    '/api/v1/graphql': (_url: string, init?: RequestInit) => {
      const { query, variables } = JSON.parse(String(init?.body));
      if (String(query).includes('latestRunStates')) {
        // Run states are asked for once, for the jobs drawn.
        states.push(variables.nodeIds);
        const known: Record<string, string> = { [LOAD]: 'FAILED', [TRAIN]: 'COMPLETED' };
        return {
          data: {
            latestRunStates: variables.nodeIds
              .filter((id: string) => known[id])
              .map((id: string) => ({ nodeId: id, state: known[id] })),
          },
        };
      }
      graphql.push(variables);
      return { data: { lineage: variables.nodeId === TRAIN ? trainAround : base } };
    },
    '/api/v1/events/lineage': { totalCount: 1, events: [{ eventTime: '2024-01-01T00:00:00Z' }] },
    '/api/v1/namespaces/db/datasets/orders': { id: { namespace: 'db', name: 'orders' }, name: 'orders', namespace: 'db', fields: [], facets: {} },
    '/api/v1/namespaces/db/datasets/orders/versions': { totalCount: 0, versions: [] },
    '/api/v1/namespaces/ml/jobs/train': { id: { namespace: 'ml', name: 'train' }, name: 'train', namespace: 'ml', facets: {} },
    '/api/v1/namespaces/ml/jobs/train/runs': { totalCount: 0, runs: [] },
    '/api/v1/namespaces/ml/jobs/train/versions': { totalCount: 0, versions: [] },
  });
  return { ...mock, graphql, states };
}

const drawn = (c: HTMLElement) => [...c.querySelectorAll('[data-node-id]')].map((g) => g.getAttribute('data-node-id')).sort();
const ready = (c: HTMLElement) => c.querySelector('.graph')?.getAttribute('data-ready') === 'true';

describe('LineagePage', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('draws the lineage, then expands a node in place and keeps the expansion in the URL', async () => {
    window.history.replaceState(null, '', `/lineage?nodeId=${encodeURIComponent(ORDERS)}&depth=2`);
    const { graphql, states } = serve();
    const { container } = render(<LineagePage />);
    await waitFor(() => expect(ready(container)).toBe(true));
    expect(drawn(container)).toEqual([ORDERS, LOAD, TRAIN].sort());
    expect(graphql[0]).toMatchObject({ nodeId: ORDERS, depth: 2, direction: 'BOTH', asOf: null });
    // Latest run states colour the jobs.
    await waitFor(() =>
      expect(container.querySelector(`[data-node-id="${LOAD}"] .gnode-state`)?.getAttribute('fill')).toBe('#dc2626'),
    );
    expect(states[0]).toEqual([LOAD, TRAIN].sort());

    // Select the job, then expand it from the panel.
    const train = container.querySelector(`[data-node-id="${TRAIN}"] rect`)!;
    act(() => {
      fireEvent.pointerDown(train, { button: 0, clientX: 10, clientY: 10 });
      fireEvent.pointerUp(train, { button: 0, clientX: 10, clientY: 10 });
    });
    expect(new URLSearchParams(window.location.search).get('sel')).toBe(TRAIN);
    fireEvent.click(await screen.findByRole('button', { name: 'Expand' }));
    await waitFor(() => expect(drawn(container)).toContain(MODEL));
    await waitFor(() => expect(ready(container)).toBe(true));
    expect(drawn(container)).toEqual([ORDERS, LOAD, TRAIN, MODEL].sort());
    expect(graphql.at(-1)).toMatchObject({ nodeId: TRAIN, depth: 1 });
    expect(new URLSearchParams(window.location.search).getAll('expand')).toEqual([TRAIN]);
    expect(container.querySelector(`[data-node-id="${MODEL}"]`)?.classList.contains('gnode-model')).toBe(true);
    // The expansion's answer was cut short: the page says so.
    expect(screen.getByTestId('truncated').textContent).toMatch(/Truncated/);
  });

  it('asks for the graph as of the time in the URL and says which time it shows', async () => {
    window.history.replaceState(null, '', `/lineage?nodeId=${encodeURIComponent(ORDERS)}&asOf=2024-03-15T00:00:00Z`);
    const { graphql } = serve();
    const { container } = render(<LineagePage />);
    await waitFor(() => expect(ready(container)).toBe(true));
    expect(graphql[0].asOf).toBe('2024-03-15T00:00:00Z');
    expect(screen.getByText(/Showing the graph as it was at/).textContent).toContain('2024-03-15 00:00Z');
    expect((screen.getByLabelText('As of (UTC)') as HTMLInputElement).value).toBe('2024-03-15T00:00');
  });
});
