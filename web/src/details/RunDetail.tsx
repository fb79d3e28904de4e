//! A run: state and times, and the exact dataset versions it read and wrote.

import { api } from '../api';
import { useAsync } from '../hooks';
import { StateBadge } from '../components/Badges';
import { AsyncView, Empty } from '../components/States';
import { JsonViewer } from '../components/JsonViewer';
import { formatDuration, formatTime, shortVersion } from '../format';
import { urls } from '../nodeId';
import { Link } from '../router';
import type { VersionRef } from '../types';

function Bound({ title, list }: { title: string; list: { datasetVersionId: VersionRef }[] }) {
  return (
    <section>
      <h3>{title}</h3>
      {list.length === 0 ? (
        <Empty title={`No ${title.toLowerCase()}`} />
      ) : (
        <table className="table" aria-label={title}>
          <thead>
            <tr>
              <th>Dataset</th>
              <th>Version</th>
            </tr>
          </thead>
          <tbody>
            {list.map(({ datasetVersionId: v }) => (
              <tr key={`${v.namespace}/${v.name}/${v.version}`}>
                <td>
                  <Link to={urls.dataset(v.namespace, v.name)}>{v.name}</Link>
                  <div className="cell-ns">{v.namespace}</div>
                </td>
                <td className="mono" title={v.version ?? ''}>
                  {v.version ? shortVersion(v.version) : <span className="muted">unversioned</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function RunDetail({ id }: { id: string }) {
  const run = useAsync((signal) => api.run(id, signal), [id]);
  return (
    <AsyncView
      value={run}
      loading="Loading run…"
      errorTitle="Could not load the run"
      render={(r) => (
        <div className="detail">
          <dl className="facts">
            <dt>State</dt>
            <dd>
              <StateBadge state={r.state} />
            </dd>
            <dt>Job</dt>
            <dd>
              {r.jobVersion ? (
                <Link to={urls.job(r.jobVersion.namespace, r.jobVersion.name)}>
                  {r.jobVersion.namespace} / {r.jobVersion.name}
                </Link>
              ) : (
                '—'
              )}
              {r.jobVersion?.version && <span className="muted mono"> @ {shortVersion(r.jobVersion.version)}</span>}
            </dd>
            <dt>Started</dt>
            <dd>{formatTime(r.startedAt)}</dd>
            <dt>Ended</dt>
            <dd>{formatTime(r.endedAt)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(r.durationMs)}</dd>
            {(r.nominalStartTime || r.nominalEndTime) && (
              <>
                <dt>Nominal</dt>
                <dd>
                  {formatTime(r.nominalStartTime)} → {formatTime(r.nominalEndTime)}
                </dd>
              </>
            )}
          </dl>
          <div className="two-col">
            <Bound title="Inputs" list={r.inputDatasetVersions ?? []} />
            <Bound title="Outputs" list={r.outputDatasetVersions ?? []} />
          </div>
          {r.facets && Object.keys(r.facets).length > 0 && (
            <section>
              <h3>Run facets</h3>
              <JsonViewer value={r.facets} />
            </section>
          )}
        </div>
      )}
    />
  );
}
