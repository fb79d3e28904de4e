import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { JsonViewer } from './JsonViewer';

const event = {
  eventType: 'COMPLETE',
  run: { runId: 'r-1', facets: { nominalTime: { nominalStartTime: '2024-01-01T00:00:00Z' } } },
  inputs: [{ namespace: 'db', name: 'orders' }],
  count: 3,
  ok: true,
  missing: null,
};

describe('JsonViewer', () => {
  it('shows the top level open and deeper levels folded, with a summary', () => {
    render(<JsonViewer value={event} />);
    expect(screen.getByText('"COMPLETE"')).toBeTruthy();
    expect(screen.getByText('3')).toBeTruthy();
    expect(screen.getByText('true')).toBeTruthy();
    expect(screen.getByText('null')).toBeTruthy();
    expect(screen.getByText('{2 keys}')).toBeTruthy(); // run, folded
    expect(screen.getByText('[1 item]')).toBeTruthy(); // inputs, folded
    expect(screen.queryByText('"r-1"')).toBeNull();
  });

  it('opens and closes a node on click', () => {
    render(<JsonViewer value={event} />);
    const run = screen.getByRole('button', { name: /run:/ });
    expect(run.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(run);
    expect(run.getAttribute('aria-expanded')).toBe('true');
    expect(screen.getByText('"r-1"')).toBeTruthy();
    fireEvent.click(run);
    expect(screen.queryByText('"r-1"')).toBeNull();
  });

  it('expands and collapses everything', () => {
    render(<JsonViewer value={event} />);
    fireEvent.click(screen.getByRole('button', { name: 'Expand all' }));
    expect(screen.getByText('"2024-01-01T00:00:00Z"')).toBeTruthy();
    expect(screen.getByText('"orders"')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Collapse all' }));
    expect(screen.queryByText('"COMPLETE"')).toBeNull();
    expect(screen.getByText('{6 keys}')).toBeTruthy();
  });
});
