//! `/datasets/:ns/:name/columns`: column lineage of a dataset on its own page.

import { ColumnLineage } from '../details/ColumnLineage';
import { urls } from '../nodeId';
import { Link } from '../router';
import { PageHeader } from './PageHeader';

export function ColumnsPage({ ns, name }: { ns: string; name: string }) {
  return (
    <div className="page">
      <PageHeader kind="DATASET" name={name} namespace={ns} subtitle="Column lineage">
        <Link className="btn" to={urls.dataset(ns, name)}>
          Dataset
        </Link>
      </PageHeader>
      <div className="card">
        <ColumnLineage ns={ns} name={name} />
      </div>
    </div>
  );
}
