//! "Trained on": for a dataset version (a model), the run that wrote it and, for every input,
//! the command that reads that exact data again (DVC, Delta, Iceberg, lakeFS), with what has
//! changed upstream since.

import { useState } from 'react';
import { api, ApiError } from '../api';
import { useAsync } from '../hooks';
import { formatTime, shortVersion } from '../format';
import { parseNodeId, urls } from '../nodeId';
import { Link } from '../router';
import { AsyncView, Empty } from '../components/States';
import { Tag } from '../components/Badges';
import type { DatasetVersion, Reproduction } from '../types';
import { versionOf } from './VersionTimeline';

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setCopied(true));
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

function DatasetRef({ id }: { id: string }) {
  const key = parseNodeId(id);
  if (!key) return <span className="mono">{id}</span>;
  return <Link to={urls.dataset(key.namespace, key.name)}>{key.name}</Link>;
}

function TrainedOn({ r }: { r: Reproduction }) {
  const m = r.manifest;
  const changed = useAsync((signal) => api.changedInputs(m.runId, signal), [m.runId]);
  return (
    <div className="reproduce">
      <p>
        Version <span className="mono" title={r.version}>{shortVersion(r.version)}</span>
        {r.producerVersion && (
          <>
            {' '}
            (producer version <span className="mono">{r.producerVersion}</span>)
          </>
        )}{' '}
        was written by <Link to={urls.run(m.runId)}>run {shortVersion(m.runId)}</Link> of{' '}
        <Link to={urls.job(m.job.namespace, m.job.name)}>{m.job.name}</Link> ({m.state.toLowerCase()}
        {m.endedAt ? `, ${formatTime(m.endedAt)}` : ''}).{' '}
        {r.exact ? (
          <Tag kind="type">every input can be read back exactly</Tag>
        ) : (
          <Tag kind="tag">some inputs cannot be read back exactly</Tag>
        )}
      </p>
      <table className="table" aria-label="Trained on">
        <thead>
          <tr>
            <th>Input</th>
            <th>Snapshot</th>
            <th>How to get it back</th>
          </tr>
        </thead>
        <tbody>
          {r.inputs.map((i) => (
            <tr key={`${i.datasetId}@${i.version ?? ''}`}>
              <td>
                <DatasetRef id={i.datasetId} />
                <div className="muted">{i.namespace}</div>
              </td>
              <td>
                {i.producerVersion ? <span className="mono">{i.producerVersion}</span> : <span className="muted">none</span>}
                <div>
                  <Tag kind={i.exact ? 'version' : 'tag'}>{i.exact ? i.kind : 'not exact'}</Tag>
                </div>
              </td>
              <td>
                {i.command && (
                  <div className="command">
                    <code>{i.command}</code> <CopyButton text={i.command} />
                  </div>
                )}
                <div className={i.exact ? 'muted' : 'tag-error'}>{i.note}</div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3 className="subhead">Changed since</h3>
      <AsyncView
        value={changed}
        loading="Comparing with the current versions…"
        errorTitle="Could not compare with the current versions"
        render={({ changedInputs }) =>
          changedInputs.length === 0 ? (
            <p className="muted">Every input is still at the version this run read.</p>
          ) : (
            <ul aria-label="Changed since">
              {changedInputs.map((c) => (
                <li key={c.datasetId}>
                  <DatasetRef id={c.datasetId} />: read{' '}
                  <span className="mono">{shortVersion(c.usedVersion ?? '—')}</span>, now{' '}
                  <span className="mono">{shortVersion(c.currentVersion ?? '—')}</span>
                </li>
              ))}
            </ul>
          )
        }
      />
    </div>
  );
}

/** The reproduction of one version of a dataset, the current one first; pick another. */
export function Reproduce({ ns, name, versions }: { ns: string; name: string; versions: DatasetVersion[] }) {
  const [version, setVersion] = useState<string | null>(null);
  const data = useAsync((signal) => api.reproduce(ns, name, version, signal), [ns, name, version]);
  return (
    <div>
      {versions.length > 1 && (
        <label className="check">
          Version{' '}
          <select aria-label="Version to reproduce" value={version ?? ''} onChange={(e) => setVersion(e.target.value || null)}>
            <option value="">current</option>
            {versions.map((v) => (
              <option key={versionOf(v)} value={versionOf(v)}>
                {shortVersion(versionOf(v))} · {formatTime(v.createdAt)}
                {v.producerVersion ? ` · ${v.producerVersion}` : ''}
              </option>
            ))}
          </select>
        </label>
      )}
      {data.status === 'error' && data.error instanceof ApiError && data.error.status === 404 ? (
        <Empty title="Nothing to reproduce">{data.error.message}</Empty>
      ) : (
        <AsyncView value={data} loading="Finding what made it…" errorTitle="Could not work out what made it" render={(r) => <TrainedOn r={r} />} />
      )}
    </div>
  );
}
