//! `/runs/:id`: a run with its inputs and outputs bound to versions.

import { RunDetail } from '../details/RunDetail';
import { PageHeader } from './PageHeader';

export function RunPage({ id }: { id: string }) {
  return (
    <div className="page">
      <PageHeader name="Run" subtitle={<span className="mono">{id}</span>} />
      <div className="card">
        <RunDetail id={id} />
      </div>
    </div>
  );
}
