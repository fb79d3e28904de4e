//! A dataset: current schema, versions on a timeline, facets, column lineage.

import { useState } from 'react';
import { api } from '../api';
import { useAsync } from '../hooks';
import { Tag } from '../components/Badges';
import { AsyncView, Empty } from '../components/States';
import { JsonViewer } from '../components/JsonViewer';
import { formatTime, shortVersion } from '../format';
import { Tabs } from './Tabs';
import { SchemaTable } from './SchemaTable';
import { VersionTimeline } from './VersionTimeline';
import { ColumnLineage } from './ColumnLineage';
import { Reproduce } from './Reproduce';

export function DatasetDetail({ ns, name }: { ns: string; name: string }) {
  // Bumped after a change (a version tag) to load the dataset again.
  const [revision, setRevision] = useState(0);
  const data = useAsync(
    (signal) => Promise.all([api.dataset(ns, name, signal), api.datasetVersions(ns, name, signal)]),
    [ns, name, revision],
  );
  return (
    <AsyncView
      value={data}
      loading="Loading dataset…"
      errorTitle="Could not load the dataset"
      render={([ds, versions]) => {
        const dsType = (ds.facets?.datasetType as { datasetType?: string } | undefined)?.datasetType;
        return (
          <div className="detail">
            <dl className="facts">
              <dt>Type</dt>
              <dd>
                {dsType ? <Tag kind="type">{dsType}</Tag> : null} {ds.type ?? ''}
              </dd>
              <dt>Source</dt>
              <dd className="mono">{ds.sourceName ?? '—'}</dd>
              <dt>Current version</dt>
              <dd className="mono" title={ds.currentVersion ?? ''}>
                {ds.currentVersion ? shortVersion(ds.currentVersion) : '—'}
              </dd>
              <dt>Updated</dt>
              <dd>{formatTime(ds.updatedAt)}</dd>
              {ds.tags && ds.tags.length > 0 && (
                <>
                  <dt>Tags</dt>
                  <dd className="chips">
                    {ds.tags.map((t) => (
                      <Tag key={t}>{t}</Tag>
                    ))}
                  </dd>
                </>
              )}
              {ds.description && (
                <>
                  <dt>Description</dt>
                  <dd>{ds.description}</dd>
                </>
              )}
            </dl>
            <Tabs
              // After a tag change the dataset loads again: stay on the versions.
              // A model opens on what it was trained on.
              initial={revision > 0 ? 'versions' : dsType?.toUpperCase() === 'MODEL' ? 'reproduce' : undefined}
              tabs={[
                { id: 'schema', label: `Schema (${ds.fields.length})`, render: () => <SchemaTable fields={ds.fields} /> },
                {
                  id: 'versions',
                  label: `Versions (${versions.totalCount ?? versions.versions.length})`,
                  render: () => (
                    <VersionTimeline
                      ns={ns}
                      name={name}
                      versions={versions.versions}
                      onChanged={() => setRevision((r) => r + 1)}
                    />
                  ),
                },
                {
                  id: 'reproduce',
                  label: dsType?.toUpperCase() === 'MODEL' ? 'Trained on' : 'Reproduce',
                  render: () => <Reproduce ns={ns} name={name} versions={versions.versions} />,
                },
                { id: 'columns', label: 'Column lineage', render: () => <ColumnLineage ns={ns} name={name} /> },
                {
                  id: 'facets',
                  label: 'Facets',
                  render: () =>
                    ds.facets && Object.keys(ds.facets).length > 0 ? (
                      <JsonViewer value={ds.facets} />
                    ) : (
                      <Empty title="No facets" />
                    ),
                },
              ]}
            />
          </div>
        );
      }}
    />
  );
}
