//! What changed between two versions of a dataset: fields added, removed and changed, facets,
//! statistics.

import { Tag } from '../components/Badges';
import { formatNumber, formatTime, shortVersion } from '../format';
import { urls } from '../nodeId';
import { Link } from '../router';
import type { StatDiff, VersionDiff, VersionSide } from '../types';

function Side({ label, v }: { label: string; v: VersionSide }) {
  return (
    <div className="diff-side">
      <div className="diff-side-label">{label}</div>
      <div className="mono" title={v.version}>
        {shortVersion(v.version)}
      </div>
      <div className="muted">{formatTime(v.createdAt)}</div>
      {v.producerVersion && <div className="muted">producer {v.producerVersion}</div>}
      {(v.tags ?? []).length > 0 && (
        <div className="chips">
          {(v.tags ?? []).map((t) => (
            <Tag key={t} kind="version">
              {t}
            </Tag>
          ))}
        </div>
      )}
      {v.createdByRun?.id && <Link to={urls.run(v.createdByRun.id)}>run {shortVersion(v.createdByRun.id)}</Link>}
    </div>
  );
}

function Stat({ label, s }: { label: string; s?: StatDiff | null }) {
  if (!s) return null;
  const delta = s.delta ?? (s.from !== null && s.to !== null ? s.to - s.from : null);
  return (
    <tr>
      <th>{label}</th>
      <td className="num">{formatNumber(s.from)}</td>
      <td className="num">{formatNumber(s.to)}</td>
      <td className={`num ${delta && delta > 0 ? 'pos' : delta && delta < 0 ? 'neg' : ''}`}>
        {delta === null ? '—' : `${delta > 0 ? '+' : ''}${formatNumber(delta)}`}
      </td>
    </tr>
  );
}

export function DiffView({ diff }: { diff: VersionDiff }) {
  const nothing =
    diff.fieldsAdded.length + diff.fieldsRemoved.length + diff.fieldsChanged.length + diff.facetsChanged.length === 0;
  const stats = diff.statistics;
  return (
    <div className="diff">
      <div className="diff-sides">
        <Side label="From" v={diff.from} />
        <span className="diff-arrow" aria-hidden="true">
          →
        </span>
        <Side label="To" v={diff.to} />
      </div>
      <p className="diff-summary" aria-label="Summary">
        <span className="pos">+{diff.fieldsAdded.length} added</span> ·{' '}
        <span className="neg">−{diff.fieldsRemoved.length} removed</span> ·{' '}
        <span className="chg">~{diff.fieldsChanged.length} changed</span> · {diff.facetsChanged.length} facet
        {diff.facetsChanged.length === 1 ? '' : 's'} changed
      </p>
      {nothing && <div className="state state-empty">The two versions have the same schema and facets.</div>}
      {(diff.fieldsAdded.length > 0 || diff.fieldsRemoved.length > 0 || diff.fieldsChanged.length > 0) && (
        <table className="table diff-table" aria-label="Field changes">
          <thead>
            <tr>
              <th />
              <th>Field</th>
              <th>Type</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {(
              [
                ['added', '+', diff.fieldsAdded],
                ['removed', '−', diff.fieldsRemoved],
              ] as const
            ).flatMap(([change, mark, fields]) =>
              fields.map((f) => (
                <tr key={`${mark}${f.name}`} className={`diff-${change}`} data-change={change}>
                  <td className="diff-mark">{mark}</td>
                  <td className="mono">{f.name}</td>
                  <td className="mono">{f.type ?? '—'}</td>
                  <td>{f.description ?? ''}</td>
                </tr>
              )),
            )}
            {diff.fieldsChanged.map((f) => (
              <tr key={`~${f.name}`} className="diff-changed" data-change="changed">
                <td className="diff-mark">~</td>
                <td className="mono">{f.name}</td>
                <td className="mono">
                  {(f.from.type ?? '') !== (f.to.type ?? '') ? (
                    <>
                      <del>{f.from.type ?? '—'}</del> → <ins>{f.to.type ?? '—'}</ins>
                    </>
                  ) : (
                    f.to.type ?? '—'
                  )}
                </td>
                <td>
                  {(f.from.description ?? '') !== (f.to.description ?? '') ? (
                    <>
                      <del>{f.from.description ?? '—'}</del> → <ins>{f.to.description ?? '—'}</ins>
                    </>
                  ) : (
                    f.to.description ?? ''
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {diff.facetsChanged.length > 0 && (
        <div className="diff-facets">
          <h3>Facets changed</h3>
          <div className="chips">
            {diff.facetsChanged.map((f) => (
              <Tag key={f}>{f}</Tag>
            ))}
          </div>
        </div>
      )}
      {stats && (stats.rowCount || stats.bytes) && (
        <table className="table stats-table" aria-label="Statistics">
          <thead>
            <tr>
              <th />
              <th>From</th>
              <th>To</th>
              <th>Change</th>
            </tr>
          </thead>
          <tbody>
            <Stat label="Rows" s={stats.rowCount} />
            <Stat label="Bytes" s={stats.bytes} />
          </tbody>
        </table>
      )}
    </div>
  );
}
