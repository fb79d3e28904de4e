//! A dataset's versions, newest first, on a timeline; pick two to compare.

import { useState } from 'react';
import { Tag } from '../components/Badges';
import { Empty } from '../components/States';
import { formatTime, shortVersion } from '../format';
import { urls } from '../nodeId';
import { Link, navigate } from '../router';
import type { DatasetVersion } from '../types';

export const versionOf = (v: DatasetVersion) => v.version ?? (v.id as { version?: string } | undefined)?.version ?? '';

export function VersionTimeline({ ns, name, versions }: { ns: string; name: string; versions: DatasetVersion[] }) {
  const [picked, setPicked] = useState<string[]>([]);
  if (versions.length === 0) return <Empty title="No versions">No run has written this dataset yet.</Empty>;
  const toggle = (v: string) =>
    setPicked((p) => (p.includes(v) ? p.filter((x) => x !== v) : [...p, v].slice(-2)));
  const compare = () => {
    // Older on the left: versions are listed newest first.
    const order = (v: string) => versions.findIndex((x) => versionOf(x) === v);
    const [a, b] = [...picked].sort((x, y) => order(y) - order(x));
    navigate(urls.datasetDiff(ns, name, a, b));
  };
  return (
    <div className="timeline-wrap">
      <div className="timeline-actions">
        <span className="muted">{picked.length < 2 ? 'Tick two versions to compare them.' : 'Ready to compare.'}</span>
        <button type="button" className="btn btn-small btn-primary" disabled={picked.length !== 2} onClick={compare}>
          Compare
        </button>
      </div>
      <ol className="timeline" aria-label="Versions">
        {versions.map((v, i) => {
          const id = versionOf(v);
          const prev = versions[i + 1];
          const tags = [...(v.versionTags ?? [])];
          return (
            <li key={id} className={`tl-item${i === 0 ? ' current' : ''}`}>
              <span className="tl-dot" aria-hidden="true" />
              <div className="tl-body">
                <div className="tl-head">
                  <label className="tl-pick">
                    <input
                      type="checkbox"
                      aria-label={`Pick version ${shortVersion(id)}`}
                      checked={picked.includes(id)}
                      onChange={() => toggle(id)}
                    />
                    <span className="mono" title={id}>
                      {shortVersion(id)}
                    </span>
                  </label>
                  {i === 0 && <Tag kind="type">current</Tag>}
                  {tags.map((t) => (
                    <Tag key={t} kind="version">
                      {t}
                    </Tag>
                  ))}
                  {v.producerVersion && (
                    <span className="muted" title="Producer-supplied version">
                      producer {v.producerVersion}
                    </span>
                  )}
                </div>
                <div className="tl-meta">
                  {formatTime(v.createdAt)}
                  {v.fields && ` · ${v.fields.length} field${v.fields.length === 1 ? '' : 's'}`}
                  {v.createdByRun?.id && (
                    <>
                      {' · '}
                      <Link to={urls.run(v.createdByRun.id)}>run {shortVersion(v.createdByRun.id)}</Link>
                    </>
                  )}
                  {prev && (
                    <>
                      {' · '}
                      <Link to={urls.datasetDiff(ns, name, versionOf(prev), id)}>diff with previous</Link>
                    </>
                  )}
                </div>
              </div>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
