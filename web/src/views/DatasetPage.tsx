//! `/datasets/:ns/:name`: a dataset on its own page.

import { DatasetDetail } from '../details/DatasetDetail';
import { nodeId, urls } from '../nodeId';
import { Link } from '../router';
import { PageHeader } from './PageHeader';

export function DatasetPage({ ns, name }: { ns: string; name: string }) {
  return (
    <div className="page">
      <PageHeader kind="DATASET" name={name} namespace={ns}>
        <Link className="btn btn-primary" to={urls.lineage(nodeId('DATASET', ns, name))}>
          Lineage
        </Link>
        <Link className="btn" to={`${urls.lineage(nodeId('DATASET', ns, name))}&mode=impact`}>
          Impact
        </Link>
      </PageHeader>
      <div className="card">
        <DatasetDetail ns={ns} name={name} />
      </div>
    </div>
  );
}
