//! Impact mode's side panel: the affected datasets and models, by distance, filterable, as CSV.

import { KindIcon } from './Badges';
import { Empty } from './States';
import { filterAffected, impactCsv, impactFileName, impactTypes, downloadText, typeOf } from './impact';
import type { Impact } from '../types';

export function ImpactPanel({
  impact,
  targetName,
  types,
  onTypes,
  onPick,
  asOf,
}: {
  impact: Impact;
  targetName: string;
  types: string[];
  onTypes: (types: string[]) => void;
  onPick: (id: string) => void;
  asOf?: string | null;
}) {
  const all = impact.affected.filter((a) => a.node.kind === 'DATASET');
  const counts = impactTypes(all);
  const rows = filterAffected(all, types);
  const models = all.filter((a) => typeOf(a) === 'MODEL').length;
  const toggle = (t: string) => onTypes(types.includes(t) ? types.filter((x) => x !== t) : [...types, t]);
  return (
    <div className="impact">
      <p className="impact-summary">
        <strong>{all.length}</strong> dataset{all.length === 1 ? '' : 's'} downstream of <span className="mono">{targetName}</span>
        {models > 0 && (
          <>
            , <strong className="model-text">{models} model{models === 1 ? '' : 's'}</strong>
          </>
        )}
        .
      </p>
      {impact.truncated && (
        <div className="banner banner-warn" role="status">
          Truncated: the walk stopped at the server's node limit; more may be affected.
        </div>
      )}
      {counts.length > 0 && (
        <fieldset className="type-filter">
          <legend>Dataset type</legend>
          {counts.map(({ type, count }) => (
            <label key={type} className={`chip-toggle${types.includes(type) ? ' on' : ''}`}>
              <input type="checkbox" checked={types.includes(type)} onChange={() => toggle(type)} />
              {type} <span className="count">{count}</span>
            </label>
          ))}
          {types.length > 0 && (
            <button type="button" className="btn btn-small btn-link" onClick={() => onTypes([])}>
              Clear
            </button>
          )}
        </fieldset>
      )}
      <div className="impact-actions">
        <button
          type="button"
          className="btn btn-small"
          disabled={rows.length === 0}
          onClick={() => downloadText(impactFileName(targetName, asOf), impactCsv(rows))}
        >
          Export CSV ({rows.length})
        </button>
      </div>
      {all.length === 0 ? (
        <Empty title="Nothing downstream">No dataset is made from this node{asOf ? ' at that time' : ''}.</Empty>
      ) : rows.length === 0 ? (
        <Empty title="No dataset of those types">Clear the type filter to see all {all.length}.</Empty>
      ) : (
        <table className="table impact-table" aria-label="Affected datasets">
          <thead>
            <tr>
              <th title="Jobs between the node and this dataset">Dist.</th>
              <th>Dataset</th>
              <th>Type</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.node.id} className={typeOf(a) === 'MODEL' ? 'row-model' : ''} onClick={() => onPick(a.node.id)}>
                <td className="num">{a.distance}</td>
                <td>
                  <button type="button" className="linklike" onClick={() => onPick(a.node.id)} title={a.path.join(' → ')}>
                    <KindIcon kind="DATASET" datasetType={a.node.datasetType} />
                    <span className="cell-name">{a.node.name}</span>
                  </button>
                  <div className="cell-ns">{a.node.namespace}</div>
                </td>
                <td>{typeOf(a)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
