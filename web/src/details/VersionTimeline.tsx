//! A dataset's versions, newest first, on a timeline; pick two to compare; put version tags on
//! them or take tags off (a change: the server may ask for a key with the `admin` scope).

import { useEffect, useState, type FormEvent } from 'react';
import { fetchSnapshot, setVersionTag, type SnapshotState } from '../api';
import { Tag } from '../components/Badges';
import { Empty } from '../components/States';
import { formatTime, shortVersion } from '../format';
import { urls } from '../nodeId';
import { Link, navigate } from '../router';
import type { DatasetVersion } from '../types';

export const versionOf = (v: DatasetVersion) => v.version ?? (v.id as { version?: string } | undefined)?.version ?? '';

/**
 * Whether a tagged version's data is still where it was (asked of the storage: the Delta log and
 * files, the Iceberg snapshot, the DVC object, the lakeFS commit). Said loudly when it is gone,
 * quietly when it is there, not at all when there is nothing to ask.
 */
export function SnapshotBadge({ ns, name, version }: { ns: string; name: string; version: string }) {
  const [snap, setSnap] = useState<SnapshotState | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    fetchSnapshot(ns, name, version, ctl.signal)
      .then(setSnap)
      .catch(() => setSnap(null));
    return () => ctl.abort();
  }, [ns, name, version]);
  if (!snap || snap.state === 'none') return null;
  if (snap.state === 'present') {
    return (
      <span className="snapshot snapshot-present" title={snap.detail}>
        ✓ snapshot at source
      </span>
    );
  }
  const label = snap.state === 'gone' ? 'Snapshot gone at source' : 'Snapshot not checked';
  return (
    <span className={`snapshot snapshot-${snap.state}`} role="status">
      <strong>{label}:</strong> {snap.detail}
    </span>
  );
}

/** The tag form of one version, and what became of the last change. */
function TagControls({
  ns,
  name,
  version,
  onChanged,
}: {
  ns: string;
  name: string;
  version: string;
  onChanged: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [tag, setTag] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await setVersionTag(ns, name, version, tag.trim(), true);
      setOpen(false);
      setTag('');
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (!open) {
    return (
      <button type="button" className="btn btn-small" onClick={() => setOpen(true)} aria-label={`Tag version ${shortVersion(version)}`}>
        Tag…
      </button>
    );
  }
  return (
    <form className="tag-form" onSubmit={submit}>
      <input
        aria-label="Version tag"
        placeholder="v1.2.0, prod…"
        value={tag}
        onChange={(e) => setTag(e.target.value)}
        autoFocus
      />
      <button type="submit" className="btn btn-small btn-primary" disabled={busy || !tag.trim()}>
        Add tag
      </button>
      <button type="button" className="btn btn-small" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error && (
        <span className="tag-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

export function VersionTimeline({
  ns,
  name,
  versions,
  onChanged = () => {},
}: {
  ns: string;
  name: string;
  versions: DatasetVersion[];
  onChanged?: () => void;
}) {
  const [picked, setPicked] = useState<string[]>([]);
  const [untagError, setUntagError] = useState<string | null>(null);
  const untag = async (version: string, tag: string) => {
    setUntagError(null);
    try {
      await setVersionTag(ns, name, version, tag, false);
      onChanged();
    } catch (err) {
      setUntagError((err as Error).message);
    }
  };
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
        {untagError && (
          <span className="tag-error" role="alert">
            {untagError}
          </span>
        )}
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
                    <span key={t} className="chip-with-action">
                      <Tag kind="version">{t}</Tag>
                      <button
                        type="button"
                        className="tag-remove"
                        title={`Take the tag ${t} off`}
                        aria-label={`Remove tag ${t}`}
                        onClick={() => untag(id, t)}
                      >
                        ×
                      </button>
                    </span>
                  ))}
                  <TagControls ns={ns} name={name} version={id} onChanged={onChanged} />
                  {v.producerVersion && (
                    <span className="muted" title="Producer-supplied version">
                      producer {v.producerVersion}
                    </span>
                  )}
                </div>
                {tags.length > 0 && v.producerVersion && <SnapshotBadge ns={ns} name={name} version={id} />}
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
