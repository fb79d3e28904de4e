import { describe, expect, it, afterEach, vi } from 'vitest';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { SearchBox } from './SearchBox';
import { nextIndex } from './search';
import { mockFetch } from '../test/fetch';

const results = [
  { nodeId: 'dataset:postgres://db:5432:shop.public.orders', type: 'DATASET', name: 'shop.public.orders', namespace: 'postgres://db:5432' },
  { nodeId: 'job:etl:load_orders', type: 'JOB', name: 'load_orders', namespace: 'etl' },
  { nodeId: 'dataset:ml:orders_model', type: 'DATASET', name: 'orders_model', namespace: 'ml' },
];

describe('nextIndex', () => {
  it('moves down from nothing to the first row and wraps at the end', () => {
    expect(nextIndex(-1, 'ArrowDown', 3)).toBe(0);
    expect(nextIndex(0, 'ArrowDown', 3)).toBe(1);
    expect(nextIndex(2, 'ArrowDown', 3)).toBe(0);
  });
  it('moves up from nothing or the top to the last row', () => {
    expect(nextIndex(-1, 'ArrowUp', 3)).toBe(2);
    expect(nextIndex(0, 'ArrowUp', 3)).toBe(2);
    expect(nextIndex(2, 'ArrowUp', 3)).toBe(1);
  });
  it('has no active row in an empty list and ignores other keys', () => {
    expect(nextIndex(1, 'ArrowDown', 0)).toBe(-1);
    expect(nextIndex(1, 'a', 3)).toBe(1);
    expect(nextIndex(1, 'End', 3)).toBe(2);
    expect(nextIndex(1, 'Home', 3)).toBe(0);
  });
});

describe('SearchBox', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('searches as you type, moves with the arrow keys and opens the active row with Enter', async () => {
    const { calls } = mockFetch({ '/api/v1/search': { totalCount: 3, results } });
    render(<SearchBox inline />);
    const input = screen.getByRole('combobox');
    fireEvent.change(input, { target: { value: 'orders' } });
    await screen.findByText('load_orders');
    expect(calls.at(-1)?.url).toContain('/api/v1/search?q=orders');

    fireEvent.keyDown(input, { key: 'ArrowDown' });
    fireEvent.keyDown(input, { key: 'ArrowDown' });
    const options = screen.getAllByRole('option');
    expect(options.map((o) => o.getAttribute('aria-selected'))).toEqual(['false', 'true', 'false']);
    expect(input.getAttribute('aria-activedescendant')).toBe(options[1].id);

    fireEvent.keyDown(input, { key: 'ArrowUp' });
    fireEvent.keyDown(input, { key: 'ArrowUp' });
    expect(screen.getAllByRole('option')[2].getAttribute('aria-selected')).toBe('true');

    act(() => {
      fireEvent.keyDown(input, { key: 'Enter' });
    });
    expect(window.location.pathname).toBe('/lineage');
    expect(new URLSearchParams(window.location.search).get('nodeId')).toBe('dataset:ml:orders_model');
  });

  it('says so when nothing matches, and shows the server message on errors', async () => {
    mockFetch({ '/api/v1/search?q=zzz': { totalCount: 0, results: [] } });
    render(<SearchBox inline />);
    fireEvent.change(screen.getByRole('combobox'), { target: { value: 'zzz' } });
    await screen.findByText(/No dataset or job name contains/);

    vi.unstubAllGlobals();
    mockFetch({
      '/api/v1/search': new Response(JSON.stringify({ code: 400, message: 'limit must be positive' }), { status: 400 }),
    });
    fireEvent.change(screen.getByRole('combobox'), { target: { value: 'boom' } });
    await waitFor(() => expect(screen.getByText(/limit must be positive/)).toBeTruthy());
  });
});
