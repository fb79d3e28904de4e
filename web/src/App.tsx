//! The shell (header with search, navigation) and the routes.

import { Link, useLocation } from './router';
import { SearchBox } from './components/SearchBox';
import { SearchPage } from './views/SearchPage';
import { DatasetPage } from './views/DatasetPage';
import { JobPage } from './views/JobPage';
import { RunPage } from './views/RunPage';
import { DiffPage } from './views/DiffPage';
import { EventsPage } from './views/EventsPage';
import { ColumnsPage } from './views/ColumnsPage';
import { Empty } from './components/States';
import { KeyDialog } from './components/KeyDialog';
import { apiKey, onKeyNeeded, type KeyRequest } from './api';
import { useEffect, useState } from 'react';

import LineagePage from './views/LineagePage';

function Routes() {
  const loc = useLocation();
  const s = loc.segments;
  if (s.length === 0) return <SearchPage />;
  if (s[0] === 'lineage' && s.length === 1) {
    return <LineagePage />;
  }
  if (s[0] === 'datasets' && s.length === 3) return <DatasetPage ns={s[1]} name={s[2]} />;
  if (s[0] === 'datasets' && s.length === 4 && s[3] === 'diff') return <DiffPage ns={s[1]} name={s[2]} />;
  if (s[0] === 'datasets' && s.length === 4 && s[3] === 'columns') return <ColumnsPage ns={s[1]} name={s[2]} />;
  if (s[0] === 'jobs' && s.length === 3) return <JobPage ns={s[1]} name={s[2]} />;
  if (s[0] === 'runs' && s.length === 2) return <RunPage id={s[1]} />;
  if (s[0] === 'events' && s.length === 1) return <EventsPage />;
  return (
    <div className="page">
      <Empty title="Nothing here">
        No view lives at <code>{loc.path}</code>. <Link to="/">Search for a dataset or job</Link>.
      </Empty>
    </div>
  );
}

export function App() {
  const loc = useLocation();
  const home = loc.segments.length === 0;
  // null: closed; a request: a refusal asked for a key; 'asked': opened from the header.
  const [keyDialog, setKeyDialog] = useState<KeyRequest | 'asked' | null>(null);
  useEffect(() => onKeyNeeded((r) => setKeyDialog(r)), []);
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Tributary home">
          <svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#0f766e" />
            <path d="M6 9h8M6 16h8M6 23h8M14 9c6 0 6 7 12 7M14 23c6 0 6-7 12-7M14 16h12" stroke="#fff" strokeWidth="2.4" fill="none" strokeLinecap="round" />
          </svg>
          Tributary
        </Link>
        <nav className="nav">
          <Link to="/" className={home ? 'active' : ''}>
            Search
          </Link>
          <Link to="/events" className={loc.segments[0] === 'events' ? 'active' : ''}>
            Events
          </Link>
        </nav>
        {!home && <SearchBox />}
        <button
          type="button"
          className="btn btn-small key-button"
          title="The API key this browser sends"
          onClick={() => setKeyDialog('asked')}
        >
          {apiKey() ? 'Key in use' : 'API key'}
        </button>
      </header>
      {keyDialog && (
        <KeyDialog request={keyDialog === 'asked' ? null : keyDialog} onClose={() => setKeyDialog(null)} />
      )}
      <main className="main">
        <Routes />
      </main>
    </div>
  );
}
