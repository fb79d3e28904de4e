//! `/events`: the raw event log by time, each event in a collapsible JSON viewer.

import { useState } from 'react';
import { api } from '../api';
import { useAsync } from '../hooks';
import { formatTime, fromLocalInput, toLocalInput } from '../format';
import { nodeId, urls } from '../nodeId';
import { Link, navigate, useLocation, withQuery } from '../router';
import { AsyncView, Empty } from '../components/States';
import { JsonViewer } from '../components/JsonViewer';
import { PageHeader } from './PageHeader';

const PAGE = 25;

type Ev = Record<string, unknown> & {
  eventTime?: string;
  eventType?: string;
  job?: { namespace?: string; name?: string };
  run?: { runId?: string };
  dataset?: { namespace?: string; name?: string };
  inputs?: unknown[];
  outputs?: unknown[];
};

function EventRow({ e }: { e: Ev }) {
  const [open, setOpen] = useState(false);
  const kind = e.run ? 'Run' : e.dataset ? 'Dataset' : 'Job';
  return (
    <li className={`event${open ? ' open' : ''}`}>
      <button type="button" className="event-head" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        <span className="json-caret">{open ? '▾' : '▸'}</span>
        <span className="event-time">{formatTime(e.eventTime)}</span>
        <span className={`badge badge-event badge-${(e.eventType ?? kind).toLowerCase()}`}>{e.eventType ?? kind}</span>
        <span className="event-what">
          {e.job?.name ? (
            <>
              <span className="muted">{e.job.namespace} / </span>
              {e.job.name}
            </>
          ) : e.dataset?.name ? (
            <>
              <span className="muted">{e.dataset.namespace} / </span>
              {e.dataset.name}
            </>
          ) : (
            '—'
          )}
        </span>
        <span className="event-io muted">
          {e.inputs ? `${e.inputs.length} in` : ''} {e.outputs ? `${e.outputs.length} out` : ''}
        </span>
      </button>
      {open && (
        <div className="event-body">
          <div className="event-links">
            {e.run?.runId && <Link to={urls.run(e.run.runId)}>Run</Link>}
            {e.job?.namespace && e.job.name && (
              <Link to={urls.lineage(nodeId('JOB', e.job.namespace, e.job.name))}>Job lineage</Link>
            )}
          </div>
          <JsonViewer value={e} openDepth={1} />
        </div>
      )}
    </li>
  );
}

export function EventsPage() {
  const loc = useLocation();
  const offset = Math.max(0, Number(loc.query.get('offset') ?? 0) || 0);
  const before = loc.query.get('before') ?? '';
  const after = loc.query.get('after') ?? '';
  const sort = loc.query.get('sort') === 'asc' ? 'asc' : 'desc';
  const page = useAsync(
    (signal) => api.events({ limit: PAGE, offset, before: before || undefined, after: after || undefined, sortDirection: sort }, signal),
    [offset, before, after, sort],
  );
  const go = (changes: Record<string, string | null>) => navigate(withQuery(loc, { offset: null, ...changes }));
  return (
    <div className="page">
      <PageHeader name="Events" subtitle="The raw OpenLineage events, as received" />
      <div className="card">
        <div className="filters">
          <label className="field">
            <span>After (UTC)</span>
            <input type="datetime-local" aria-label="After (UTC)" value={toLocalInput(after)} onChange={(e) => go({ after: fromLocalInput(e.target.value) })} />
          </label>
          <label className="field">
            <span>Before (UTC)</span>
            <input type="datetime-local" aria-label="Before (UTC)" value={toLocalInput(before)} onChange={(e) => go({ before: fromLocalInput(e.target.value) })} />
          </label>
          <label className="field">
            <span>Order</span>
            <select aria-label="Order" value={sort} onChange={(e) => go({ sort: e.target.value === 'asc' ? 'asc' : null })}>
              <option value="desc">Newest first</option>
              <option value="asc">Oldest first</option>
            </select>
          </label>
        </div>
        <AsyncView
          value={page}
          loading="Loading events…"
          errorTitle="Could not load events"
          render={({ events, totalCount }) =>
            events.length === 0 ? (
              <Empty title="No events">
                {before || after ? 'No event in that time range.' : 'Nothing has been sent to POST /api/v1/lineage yet.'}
              </Empty>
            ) : (
              <>
                <ul className="events" aria-label="Events">
                  {events.map((e, i) => (
                    <EventRow key={`${offset + i}`} e={e as Ev} />
                  ))}
                </ul>
                <div className="pager">
                  <button type="button" className="btn btn-small" disabled={offset === 0} onClick={() => go({ offset: String(Math.max(0, offset - PAGE)) || null })}>
                    ← Previous
                  </button>
                  <span className="muted">
                    {offset + 1}–{offset + events.length} of {totalCount}
                  </span>
                  <button
                    type="button"
                    className="btn btn-small"
                    disabled={offset + events.length >= totalCount}
                    onClick={() => go({ offset: String(offset + PAGE) })}
                  >
                    Next →
                  </button>
                </div>
              </>
            )
          }
        />
      </div>
    </div>
  );
}
