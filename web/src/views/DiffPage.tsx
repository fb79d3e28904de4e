//! `/datasets/:ns/:name/diff?from=&to=`: two versions of a dataset side by side.

import { api } from '../api';
import { useAsync } from '../hooks';
import { formatTime, shortVersion } from '../format';
import { urls } from '../nodeId';
import { Link, navigate, useLocation } from '../router';
import { AsyncView, Empty } from '../components/States';
import { DiffView } from '../details/DiffView';
import { versionOf } from '../details/VersionTimeline';
import { PageHeader } from './PageHeader';
import type { DatasetVersion } from '../types';

function VersionSelect({
  label,
  value,
  versions,
  onChange,
}: {
  label: string;
  value: string;
  versions: DatasetVersion[];
  onChange: (v: string) => void;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label={`${label} version`}>
        <option value="">Pick a version…</option>
        {versions.map((v) => {
          const id = versionOf(v);
          return (
            <option key={id} value={id}>
              {shortVersion(id)} · {formatTime(v.createdAt)}
              {(v.versionTags ?? []).length ? ` · ${(v.versionTags ?? []).join(', ')}` : ''}
            </option>
          );
        })}
      </select>
    </label>
  );
}

export function DiffPage({ ns, name }: { ns: string; name: string }) {
  const loc = useLocation();
  const from = loc.query.get('from') ?? '';
  const to = loc.query.get('to') ?? '';
  const versions = useAsync((signal) => api.datasetVersions(ns, name, signal), [ns, name]);
  const diff = useAsync(
    (signal) => (from && to ? api.datasetDiff(ns, name, from, to, signal) : Promise.resolve(null)),
    [ns, name, from, to],
  );
  const set = (f: string, t: string) => navigate(urls.datasetDiff(ns, name, f, t), { replace: true });
  return (
    <div className="page">
      <PageHeader kind="DATASET" name={name} namespace={ns} subtitle="Compare versions">
        <Link className="btn" to={urls.dataset(ns, name)}>
          Dataset
        </Link>
      </PageHeader>
      <div className="card">
        <AsyncView
          value={versions}
          loading="Loading versions…"
          errorTitle="Could not load the versions"
          render={({ versions: list }) =>
            list.length < 2 ? (
              <Empty title="Only one version">This dataset has {list.length} version{list.length === 1 ? '' : 's'}; a diff needs two.</Empty>
            ) : (
              <div className="diff-pickers">
                <VersionSelect label="From" value={from} versions={list} onChange={(v) => set(v, to)} />
                <VersionSelect label="To" value={to} versions={list} onChange={(v) => set(from, v)} />
                <button type="button" className="btn btn-small" disabled={!from || !to} onClick={() => set(to, from)}>
                  Swap
                </button>
              </div>
            )
          }
        />
        {from && to ? (
          <AsyncView
            value={diff}
            loading="Comparing…"
            errorTitle="Could not compare the versions"
            render={(d) => (d ? <DiffView diff={d} /> : null)}
          />
        ) : (
          <Empty title="Pick two versions">Choose the older version on the left and the newer on the right.</Empty>
        )}
      </div>
    </div>
  );
}
