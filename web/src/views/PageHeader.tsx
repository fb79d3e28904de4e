//! The title block of a full-page view: kind, name, namespace and actions.

import type { ReactNode } from 'react';
import { KindIcon } from '../components/Badges';
import type { NodeKind } from '../types';

export function PageHeader({
  kind,
  name,
  namespace,
  datasetType,
  children,
  subtitle,
}: {
  kind?: NodeKind;
  name: string;
  namespace?: string;
  datasetType?: string | null;
  children?: ReactNode;
  subtitle?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div className="page-title">
        {kind && <KindIcon kind={kind} datasetType={datasetType} />}
        <div>
          <h1>{name}</h1>
          {namespace && <div className="muted mono">{namespace}</div>}
          {subtitle && <div className="muted">{subtitle}</div>}
        </div>
      </div>
      <div className="page-actions">{children}</div>
    </div>
  );
}
