//! A dataset's fields: name, type, description, tags.

import { Tag } from '../components/Badges';
import { Empty } from '../components/States';
import type { Field } from '../types';

export function SchemaTable({ fields }: { fields: Field[] }) {
  if (fields.length === 0) {
    return <Empty title="No schema">The producer sent no <code>schema</code> facet for this dataset.</Empty>;
  }
  return (
    <table className="table" aria-label="Schema">
      <thead>
        <tr>
          <th>Field</th>
          <th>Type</th>
          <th>Description</th>
        </tr>
      </thead>
      <tbody>
        {fields.map((f) => (
          <tr key={f.name}>
            <td className="mono">
              {f.name}
              {f.tags && f.tags.length > 0 && (
                <div className="chips">
                  {f.tags.map((t) => (
                    <Tag key={t}>{t}</Tag>
                  ))}
                </div>
              )}
            </td>
            <td className="mono type">{f.type ?? '—'}</td>
            <td className="desc">{f.description ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
