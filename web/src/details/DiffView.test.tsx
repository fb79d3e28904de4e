import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import { DiffView } from './DiffView';
import type { VersionDiff } from '../types';
import { DiffPage } from '../views/DiffPage';
import { mockFetch } from '../test/fetch';

const diff: VersionDiff = {
  datasetId: 'dataset:postgres://db:5432:shop.public.orders',
  from: { version: 'aaaaaaaa-1111-2222-3333-444444444444', producerVersion: null, createdAt: '2024-03-01T10:05:00Z', createdByRun: { id: 'run-1' }, tags: ['v1.0.0'] },
  to: { version: 'bbbbbbbb-1111-2222-3333-444444444444', producerVersion: '42', createdAt: '2024-04-01T10:07:00Z', createdByRun: null, tags: [] },
  fieldsAdded: [
    { name: 'customer_id', type: 'bigint', description: 'Customer key' },
    { name: 'created_at', type: 'timestamptz', description: null },
  ],
  fieldsRemoved: [{ name: 'customer', type: 'text', description: 'Customer name' }],
  fieldsChanged: [{ name: 'amount', from: { type: 'numeric', description: 'Order total' }, to: { type: 'decimal(12,2)', description: 'Order total' } }],
  facetsChanged: ['schema', 'dataQualityMetrics'],
  statistics: { rowCount: { from: 100, to: 150, delta: 50 }, bytes: null },
};

describe('DiffView', () => {
  it('lists added, removed and changed fields, each marked', () => {
    const { container } = render(<DiffView diff={diff} />);
    const table = screen.getByRole('table', { name: 'Field changes' });
    const added = container.querySelectorAll('[data-change="added"]');
    const removed = container.querySelectorAll('[data-change="removed"]');
    const changed = container.querySelectorAll('[data-change="changed"]');
    expect([...added].map((r) => r.children[1].textContent)).toEqual(['customer_id', 'created_at']);
    expect([...removed].map((r) => r.children[1].textContent)).toEqual(['customer']);
    expect(changed).toHaveLength(1);
    expect(within(table).getByText('numeric').tagName).toBe('DEL');
    expect(within(table).getByText('decimal(12,2)').tagName).toBe('INS');
    // The unchanged description is shown once, not as a change.
    expect(changed[0].querySelectorAll('del')).toHaveLength(1);
    expect(screen.getByLabelText('Summary').textContent).toMatch(/\+2 added.*−1 removed.*~1 changed.*2 facets changed/);
  });

  it('shows both versions with their tags, the changed facets and the statistics present', () => {
    render(<DiffView diff={diff} />);
    expect(screen.getByText('aaaaaaaa…4444')).toBeTruthy();
    expect(screen.getByText('v1.0.0')).toBeTruthy();
    expect(screen.getByText('producer 42')).toBeTruthy();
    expect(screen.getByText('dataQualityMetrics')).toBeTruthy();
    const stats = screen.getByRole('table', { name: 'Statistics' });
    expect(within(stats).getAllByRole('row')).toHaveLength(2); // header + rows (bytes is null)
    expect(within(stats).getByText('+50')).toBeTruthy();
  });

  it('says so when the versions are the same', () => {
    render(
      <DiffView
        diff={{ ...diff, fieldsAdded: [], fieldsRemoved: [], fieldsChanged: [], facetsChanged: [], statistics: null }}
      />,
    );
    expect(screen.getByText(/same schema and facets/)).toBeTruthy();
    expect(screen.queryByRole('table')).toBeNull();
  });
});

describe('DiffPage', () => {
  afterEach(() => vi.unstubAllGlobals());
  const versions = {
    totalCount: 2,
    versions: [
      { version: diff.to.version, createdAt: diff.to.createdAt, versionTags: [] },
      { version: diff.from.version, createdAt: diff.from.createdAt, versionTags: ['v1.0.0'] },
    ],
  };

  it('asks the diff endpoint with encoded names and renders its answer', async () => {
    window.history.replaceState(null, '', `/datasets/x/y/diff?from=${diff.from.version}&to=${diff.to.version}`);
    const { calls } = mockFetch({
      '/api/v1/namespaces/postgres%3A%2F%2Fdb%3A5432/datasets/shop.public.orders/versions/diff': diff,
      '/api/v1/namespaces/postgres%3A%2F%2Fdb%3A5432/datasets/shop.public.orders/versions': versions,
    });
    render(<DiffPage ns="postgres://db:5432" name="shop.public.orders" />);
    await screen.findByRole('table', { name: 'Field changes' });
    expect(calls.some((c) => c.url.includes(`/versions/diff?from=${diff.from.version}&to=${diff.to.version}`))).toBe(true);
    expect((screen.getByLabelText('From version') as HTMLSelectElement).value).toBe(diff.from.version);
  });

  it('shows the server message when the diff fails', async () => {
    window.history.replaceState(null, '', '/datasets/x/y/diff?from=a&to=b');
    mockFetch({
      '/api/v1/namespaces/db/datasets/t/versions/diff': new Response(
        JSON.stringify({ code: 404, message: "version 'a' of dataset 't' not found" }),
        { status: 404 },
      ),
      '/api/v1/namespaces/db/datasets/t/versions': versions,
    });
    render(<DiffPage ns="db" name="t" />);
    expect(await screen.findByText("version 'a' of dataset 't' not found")).toBeTruthy();
    expect(screen.getByText('Could not compare the versions')).toBeTruthy();
  });
});
