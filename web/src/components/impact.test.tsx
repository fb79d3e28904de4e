import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { filterAffected, impactCsv, impactTypes, NO_TYPE } from './impact';
import { ImpactPanel } from './ImpactPanel';
import type { Affected, Impact } from '../types';

const a = (name: string, distance: number, datasetType: string | null, ns = 'db'): Affected => ({
  node: { id: `dataset:${ns}:${name}`, kind: 'DATASET', namespace: ns, name, datasetType },
  distance,
  path: [`dataset:db:orders`, `job:etl:j_${name}`, `dataset:${ns}:${name}`],
});
const affected = [a('zeta_report', 2, 'TABLE'), a('churn', 1, 'MODEL', 'ml'), a('daily', 1, null), a('ltv, "v2"', 3, 'model', 'ml')];

describe('impact list logic', () => {
  it('counts dataset types, untyped ones under one label', () => {
    expect(impactTypes(affected)).toEqual([
      { type: 'MODEL', count: 2 },
      { type: NO_TYPE, count: 1 },
      { type: 'TABLE', count: 1 },
    ]);
  });
  it('filters by type (case-insensitive) and orders nearest first', () => {
    expect(filterAffected(affected, ['MODEL']).map((x) => x.node.name)).toEqual(['churn', 'ltv, "v2"']);
    expect(filterAffected(affected, []).map((x) => x.distance)).toEqual([1, 1, 2, 3]);
    expect(filterAffected(affected, [NO_TYPE]).map((x) => x.node.name)).toEqual(['daily']);
  });
  it('writes CSV with a header, one row per dataset, and quotes what needs quoting', () => {
    const csv = impactCsv(filterAffected(affected, ['MODEL']));
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('distance,dataset_type,namespace,name,node_id,path');
    expect(lines[1]).toBe('1,MODEL,ml,churn,dataset:ml:churn,dataset:db:orders > job:etl:j_churn > dataset:ml:churn');
    expect(lines[2]).toBe(
      '3,MODEL,ml,"ltv, ""v2""","dataset:ml:ltv, ""v2""","dataset:db:orders > job:etl:j_ltv, ""v2"" > dataset:ml:ltv, ""v2"""',
    );
    expect(lines).toHaveLength(3);
  });
});

describe('ImpactPanel', () => {
  afterEach(() => vi.restoreAllMocks());
  const impact: Impact = { affected, truncated: true };

  it('lists every affected dataset with its distance, marks truncation, and filters by type', () => {
    const onTypes = vi.fn();
    const { rerender } = render(<ImpactPanel impact={impact} targetName="orders" types={[]} onTypes={onTypes} onPick={() => {}} />);
    expect(screen.getByText(/Truncated/)).toBeTruthy();
    const table = screen.getByRole('table', { name: 'Affected datasets' });
    expect(within(table).getAllByRole('row')).toHaveLength(5);
    fireEvent.click(screen.getByRole('checkbox', { name: /MODEL/ }));
    expect(onTypes).toHaveBeenCalledWith(['MODEL']);

    rerender(<ImpactPanel impact={impact} targetName="orders" types={['MODEL']} onTypes={onTypes} onPick={() => {}} />);
    const rows = within(screen.getByRole('table', { name: 'Affected datasets' })).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell')[0].textContent)).toEqual(['1', '3']);
    expect(rows[0].textContent).toContain('churn');
    expect(screen.getByRole('button', { name: 'Export CSV (2)' })).toBeTruthy();
  });

  it('exports the filtered rows as a CSV download through a Blob', async () => {
    let blob: Blob | null = null;
    const create = vi.fn((b: Blob) => {
      blob = b;
      return 'blob:test';
    });
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: create, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      expect(this.download).toBe('impact-orders.csv');
      expect(this.href).toContain('blob:test');
    });
    render(<ImpactPanel impact={impact} targetName="orders" types={['MODEL']} onTypes={() => {}} onPick={() => {}} />);
    fireEvent.click(screen.getByRole('button', { name: /Export CSV/ }));
    expect(click).toHaveBeenCalledTimes(1);
    expect(create).toHaveBeenCalledTimes(1);
    const text = await blob!.text();
    expect(text.split('\r\n').filter(Boolean)).toHaveLength(3);
    expect(text).toContain('dataset:ml:churn');
    expect(text).not.toContain('zeta_report');
    vi.unstubAllGlobals();
  });

  it('says when nothing is downstream', () => {
    render(<ImpactPanel impact={{ affected: [], truncated: false }} targetName="x" types={[]} onTypes={() => {}} onPick={() => {}} />);
    expect(screen.getByText('Nothing downstream')).toBeTruthy();
    expect((screen.getByRole('button', { name: /Export CSV/ }) as HTMLButtonElement).disabled).toBe(true);
  });
});
