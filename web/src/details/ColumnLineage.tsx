//! Column lineage for a dataset: each field and the fields it comes from.

import { useState } from 'react';
import { api } from '../api';
import { useAsync } from '../hooks';
import { nodeId, urls } from '../nodeId';
import { Link } from '../router';
import { AsyncView, Empty } from '../components/States';
import { fieldLineage, type FieldRef } from './columns';

function FieldLink({ r, here }: { r: FieldRef; here: { ns: string; name: string } }) {
  const same = r.namespace === here.ns && r.dataset === here.name;
  return (
    <span className="field-ref">
      {!same && r.namespace && (
        <Link to={urls.dataset(r.namespace, r.dataset)} className="field-ds" title={`${r.namespace} ${r.dataset}`}>
          {r.dataset}
        </Link>
      )}
      {!same && !r.namespace && <span className="field-ds">{r.dataset}</span>}
      <span className="mono">.{r.field}</span>
    </span>
  );
}

export function ColumnLineage({ ns, name }: { ns: string; name: string }) {
  const [withDownstream, setWithDownstream] = useState(false);
  const depth = 10;
  const data = useAsync(
    (signal) => api.columnLineage(nodeId('DATASET', ns, name), depth, withDownstream, signal),
    [ns, name, withDownstream],
  );
  const here = { ns, name };
  return (
    <div className="columns">
      <label className="check">
        <input type="checkbox" checked={withDownstream} onChange={(e) => setWithDownstream(e.target.checked)} />
        Also show the fields made from these
      </label>
      <AsyncView
        value={data}
        loading="Loading column lineage…"
        errorTitle="Could not load column lineage"
        render={({ graph }) => {
          const rows = fieldLineage(graph ?? [], ns, name);
          if (rows.length === 0 || rows.every((r) => r.from.length === 0 && r.to.length === 0)) {
            return (
              <Empty title="No column lineage">
                The job writing this dataset sent no <code>columnLineage</code> facet, and no field is made from it.
              </Empty>
            );
          }
          return (
            <table className="table" aria-label="Column lineage">
              <thead>
                <tr>
                  <th>Field</th>
                  <th>Comes from</th>
                  {withDownstream && <th>Feeds</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.field}>
                    <td className="mono">
                      {r.field}
                      {r.transformation && <div className="muted small">{r.transformation}</div>}
                    </td>
                    <td>
                      {r.from.length === 0 ? (
                        <span className="muted">—</span>
                      ) : (
                        <ul className="field-list">
                          {r.from.map((f) => (
                            <li key={f.id}>
                              <FieldLink r={f} here={here} />
                            </li>
                          ))}
                          {r.upstream.map(({ ref, distance }) => (
                            <li key={ref.id} className="muted" title={`${distance} hops up`}>
                              ↖ <FieldLink r={ref} here={here} />
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    {withDownstream && (
                      <td>
                        {r.to.length === 0 ? (
                          <span className="muted">—</span>
                        ) : (
                          <ul className="field-list">
                            {r.to.map((f) => (
                              <li key={f.id}>
                                <FieldLink r={f} here={here} />
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      />
    </div>
  );
}
