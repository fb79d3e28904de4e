//! Home: search across datasets and jobs, and browse namespaces.

import { useCallback } from 'react';
import { api } from '../api';
import { useAsync } from '../hooks';
import { nodeId, urls } from '../nodeId';
import { Link, navigate, useLocation, withQuery } from '../router';
import { SearchBox } from '../components/SearchBox';
import { AsyncView, Empty } from '../components/States';
import { KindIcon, StateBadge } from '../components/Badges';
import { formatTime } from '../format';

function NamespaceList() {
  const namespaces = useAsync((signal) => api.namespaces(signal), []);
  return (
    <AsyncView
      value={namespaces}
      loading="Loading namespaces…"
      errorTitle="Could not load namespaces"
      render={({ namespaces: list }) =>
        list.length === 0 ? (
          <Empty title="No lineage yet">
            Send OpenLineage events to <code>POST /api/v1/lineage</code> (any OpenLineage client pointed at this
            server works) and your datasets and jobs show up here.
          </Empty>
        ) : (
          <div className="ns-grid">
            {list.map((ns) => (
              <Link key={ns.name} className="ns-card" to={`/?ns=${encodeURIComponent(ns.name)}`}>
                <span className="ns-name">{ns.name}</span>
                <span className="ns-meta">
                  {ns.ownerName ? `owner ${ns.ownerName} · ` : ''}updated {formatTime(ns.updatedAt)}
                </span>
              </Link>
            ))}
          </div>
        )
      }
    />
  );
}

function NamespaceContents({ ns }: { ns: string }) {
  const data = useAsync(
    (signal) => Promise.all([api.datasets(ns, signal), api.jobs(ns, signal)]),
    [ns],
  );
  return (
    <section className="card">
      <div className="card-head">
        <h2>
          Namespace <span className="mono">{ns}</span>
        </h2>
        <Link to="/" className="btn btn-small">
          All namespaces
        </Link>
      </div>
      <AsyncView
        value={data}
        errorTitle="Could not load the namespace"
        render={([ds, jobs]) => (
          <div className="two-col">
            <div>
              <h3>Datasets ({ds.totalCount})</h3>
              {ds.datasets.length === 0 ? (
                <Empty title="No datasets" />
              ) : (
                <ul className="plain-list">
                  {ds.datasets.map((d) => (
                    <li key={d.name}>
                      <KindIcon kind="DATASET" datasetType={(d.facets?.datasetType as { datasetType?: string })?.datasetType} />
                      <Link to={urls.lineage(nodeId('DATASET', ns, d.name))}>{d.name}</Link>
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <div>
              <h3>Jobs ({jobs.totalCount})</h3>
              {jobs.jobs.length === 0 ? (
                <Empty title="No jobs" />
              ) : (
                <ul className="plain-list">
                  {jobs.jobs.map((j) => (
                    <li key={j.name}>
                      <KindIcon kind="JOB" />
                      <Link to={urls.lineage(nodeId('JOB', ns, j.name))}>{j.name}</Link>
                      <StateBadge state={j.latestRun?.state} />
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        )}
      />
    </section>
  );
}

export function SearchPage() {
  const loc = useLocation();
  const q = loc.query.get('q') ?? '';
  const ns = loc.query.get('ns');
  // Keep the query in the URL so a search can be linked and reloaded.
  const onQuery = useCallback(
    (value: string) => {
      const current = new URLSearchParams(window.location.search).get('q') ?? '';
      if (value !== current) navigate(withQuery(loc, { q: value || null }), { replace: true });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [loc.path],
  );
  return (
    <div className="page page-narrow">
      <section className="hero">
        <h1>Find a dataset or job</h1>
        <p className="muted">
          Type part of a name; move with <kbd>↑</kbd> <kbd>↓</kbd> and open with <kbd>Enter</kbd>. Opening a result
          shows its lineage, what feeds it and what it feeds.
        </p>
        <SearchBox inline autoFocus initial={q} onQueryChange={onQuery} limit={25} />
      </section>
      {!q && (ns ? <NamespaceContents ns={ns} /> : (
        <section>
          <h2 className="section-title">Namespaces</h2>
          <NamespaceList />
        </section>
      ))}
    </div>
  );
}
