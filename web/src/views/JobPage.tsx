//! `/jobs/:ns/:name`: a job on its own page.

import { JobDetail } from '../details/JobDetail';
import { nodeId, urls } from '../nodeId';
import { Link } from '../router';
import { PageHeader } from './PageHeader';

export function JobPage({ ns, name }: { ns: string; name: string }) {
  return (
    <div className="page">
      <PageHeader kind="JOB" name={name} namespace={ns}>
        <Link className="btn btn-primary" to={urls.lineage(nodeId('JOB', ns, name))}>
          Lineage
        </Link>
      </PageHeader>
      <div className="card">
        <JobDetail ns={ns} name={name} />
      </div>
    </div>
  );
}
