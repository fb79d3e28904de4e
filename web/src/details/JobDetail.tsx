//! A job: its runs (state, start, duration), versions, source location and SQL, facets.

import { api } from '../api';
import { useAsync } from '../hooks';
import { StateBadge } from '../components/Badges';
import { AsyncView, Empty } from '../components/States';
import { JsonViewer } from '../components/JsonViewer';
import { formatDuration, formatTime, shortVersion } from '../format';
import { urls } from '../nodeId';
import { Link } from '../router';
import type { Job, JobVersion, Run } from '../types';
import { Tabs } from './Tabs';

function RunsTable({ runs }: { runs: Run[] }) {
  if (runs.length === 0) return <Empty title="No runs">This job is known from a job event only.</Empty>;
  return (
    <table className="table" aria-label="Runs">
      <thead>
        <tr>
          <th>State</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Run</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td>
              <StateBadge state={r.state} />
            </td>
            <td>{formatTime(r.startedAt ?? r.createdAt)}</td>
            <td>{formatDuration(r.durationMs)}</td>
            <td>
              <Link to={urls.run(r.id)} className="mono" title={r.id}>
                {shortVersion(r.id)}
              </Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VersionsList({ versions }: { versions: JobVersion[] }) {
  if (versions.length === 0) return <Empty title="No versions" />;
  return (
    <ol className="timeline" aria-label="Job versions">
      {versions.map((v, i) => (
        <li key={v.version} className={`tl-item${i === 0 ? ' current' : ''}`}>
          <span className="tl-dot" aria-hidden="true" />
          <div className="tl-body">
            <div className="tl-head">
              <span className="mono" title={v.version}>
                {shortVersion(v.version)}
              </span>
            </div>
            <div className="tl-meta">
              valid {formatTime(v.validFrom ?? v.createdAt)} → {v.validTo ? formatTime(v.validTo) : 'now'}
              {' · '}
              {(v.inputs ?? []).length} in, {(v.outputs ?? []).length} out
            </div>
          </div>
        </li>
      ))}
    </ol>
  );
}

function DatasetLinks({ list = [] }: { list?: { namespace: string; name: string }[] }) {
  if (list.length === 0) return <>—</>;
  return (
    <>
      {list.map((d) => (
        <div key={`${d.namespace}/${d.name}`}>
          <Link to={urls.dataset(d.namespace, d.name)}>{d.name}</Link>
        </div>
      ))}
    </>
  );
}

/** SQL and source location: from the job's facets, or its newest version. */
export function jobSource(job: Job, versions: JobVersion[]): { sql: string | null; location: string | null } {
  const facets = (job.facets ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const v = versions[0];
  const sql =
    (facets.sql?.query as string | undefined) ?? (typeof v?.sql === 'string' ? (v.sql as string) : null) ?? null;
  const loc =
    job.location ??
    (facets.sourceCodeLocation?.url as string | undefined) ??
    (typeof v?.sourceCodeLocation === 'string' ? (v.sourceCodeLocation as string) : null) ??
    (typeof v?.location === 'string' ? v.location : null) ??
    null;
  return { sql, location: loc };
}

export function JobDetail({ ns, name }: { ns: string; name: string }) {
  const data = useAsync(
    (signal) =>
      Promise.all([api.job(ns, name, signal), api.jobRuns(ns, name, signal), api.jobVersions(ns, name, signal)]),
    [ns, name],
  );
  return (
    <AsyncView
      value={data}
      loading="Loading job…"
      errorTitle="Could not load the job"
      render={([job, runs, versions]) => {
        const { sql, location } = jobSource(job, versions.versions);
        return (
          <div className="detail">
            <dl className="facts">
              <dt>Latest run</dt>
              <dd>
                <StateBadge state={job.latestRun?.state} />{' '}
                {job.latestRun && (
                  <Link to={urls.run(job.latestRun.id)}>{formatTime(job.latestRun.startedAt ?? job.latestRun.createdAt)}</Link>
                )}
              </dd>
              <dt>Type</dt>
              <dd>{job.type ?? '—'}</dd>
              <dt>Source</dt>
              <dd className="mono break">
                {location ? (
                  /^https?:\/\//.test(location) ? (
                    <a href={location} target="_blank" rel="noreferrer">
                      {location}
                    </a>
                  ) : (
                    location
                  )
                ) : (
                  '—'
                )}
              </dd>
              <dt>Reads</dt>
              <dd>
                <DatasetLinks list={job.inputs} />
              </dd>
              <dt>Writes</dt>
              <dd>
                <DatasetLinks list={job.outputs} />
              </dd>
            </dl>
            <Tabs
              tabs={[
                { id: 'runs', label: `Runs (${runs.totalCount ?? runs.runs.length})`, render: () => <RunsTable runs={runs.runs} /> },
                {
                  id: 'versions',
                  label: `Versions (${versions.totalCount ?? versions.versions.length})`,
                  render: () => <VersionsList versions={versions.versions} />,
                },
                {
                  id: 'sql',
                  label: 'SQL',
                  render: () =>
                    sql ? <pre className="code">{sql}</pre> : <Empty title="No SQL">The job sent no <code>sql</code> facet.</Empty>,
                },
                {
                  id: 'facets',
                  label: 'Facets',
                  render: () =>
                    job.facets && Object.keys(job.facets).length > 0 ? <JsonViewer value={job.facets} /> : <Empty title="No facets" />,
                },
              ]}
            />
          </div>
        );
      }}
    />
  );
}
