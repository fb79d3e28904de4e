//! Small labels: run states, dataset types, tags.

import type { RunState } from '../types';

export const RUN_STATE_COLOURS: Record<RunState, string> = {
  COMPLETED: '#16a34a',
  RUNNING: '#2563eb',
  FAILED: '#dc2626',
  ABORTED: '#d97706',
  NEW: '#64748b',
};

export function StateBadge({ state }: { state?: RunState | null }) {
  if (!state) return <span className="badge badge-muted">no runs</span>;
  return (
    <span className="badge" style={{ background: RUN_STATE_COLOURS[state] ?? '#64748b', color: '#fff' }}>
      {state}
    </span>
  );
}

export function Tag({ children, kind = 'tag' }: { children: string; kind?: 'tag' | 'version' | 'type' }) {
  return <span className={`chip chip-${kind}`}>{children}</span>;
}

export function KindIcon({ kind, datasetType }: { kind: 'DATASET' | 'JOB'; datasetType?: string | null }) {
  const model = kind === 'DATASET' && datasetType?.toUpperCase() === 'MODEL';
  const cls = kind === 'JOB' ? 'kind-job' : model ? 'kind-model' : 'kind-dataset';
  const label = kind === 'JOB' ? 'Job' : model ? 'Model' : 'Dataset';
  return (
    <span className={`kind-icon ${cls}`} title={label} aria-label={label}>
      {kind === 'JOB' ? '⚙' : model ? '◆' : '▤'}
    </span>
  );
}
