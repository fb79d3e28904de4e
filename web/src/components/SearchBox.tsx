//! The search box: datasets and jobs by name, arrow keys to move, Enter to open.

import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { api } from '../api';
import { useAsync, useDebounced } from '../hooks';
import { urls } from '../nodeId';
import { Link, navigate } from '../router';
import type { SearchResult } from '../types';
import { formatTime } from '../format';
import { KindIcon } from './Badges';
import { nextIndex } from './search';

/** Where a result leads: the lineage explorer, with the node's details beside it. */
export const resultHref = (r: SearchResult) => urls.lineage(r.nodeId);

export function SearchBox({
  inline = false,
  initial = '',
  autoFocus = false,
  onQueryChange,
  limit = 12,
}: {
  /** Inline: the results are a list under the box (home page); otherwise a dropdown. */
  inline?: boolean;
  initial?: string;
  autoFocus?: boolean;
  onQueryChange?: (q: string) => void;
  limit?: number;
}) {
  const [q, setQ] = useState(initial);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const debounced = useDebounced(q.trim(), 150);
  const listId = useId();
  const boxRef = useRef<HTMLDivElement>(null);

  const results = useAsync(
    (signal) =>
      debounced ? api.search(debounced, limit, signal).then((r) => r.results) : Promise.resolve([] as SearchResult[]),
    [debounced, limit],
  );
  const rows = results.status === 'ok' ? results.data : [];

  useEffect(() => setActive(-1), [debounced]);
  useEffect(() => onQueryChange?.(debounced), [debounced, onQueryChange]);
  useEffect(() => {
    if (inline) return;
    const close = (e: MouseEvent) => {
      if (boxRef.current && !boxRef.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [inline]);

  const openResult = (r: SearchResult) => {
    setOpen(false);
    if (!inline) setQ('');
    navigate(resultHref(r));
  };

  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Escape') {
      setOpen(false);
      setActive(-1);
      return;
    }
    if (e.key === 'Enter') {
      e.preventDefault();
      if (active >= 0 && rows[active]) openResult(rows[active]);
      else if (rows.length === 1) openResult(rows[0]);
      else if (!inline && q.trim()) {
        setOpen(false);
        navigate(urls.home(q.trim()));
      }
      return;
    }
    if (['ArrowDown', 'ArrowUp'].includes(e.key)) {
      e.preventDefault();
      setOpen(true);
      setActive((a) => nextIndex(a, e.key, rows.length));
    }
  };

  const showList = inline || (open && debounced.length > 0);
  return (
    <div className={`search ${inline ? 'search-inline' : 'search-dropdown'}`} ref={boxRef}>
      <input
        type="search"
        className="search-input"
        placeholder="Search datasets and jobs…"
        aria-label="Search datasets and jobs"
        role="combobox"
        aria-expanded={showList}
        aria-controls={listId}
        aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
        autoFocus={autoFocus}
        value={q}
        onChange={(e) => {
          setQ(e.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onKeyDown={onKey}
      />
      {showList && debounced && (
        <div className="search-results" id={listId} role="listbox" aria-label="Search results">
          {results.status === 'loading' && <div className="search-note">Searching…</div>}
          {results.status === 'error' && <div className="search-note search-error">{results.error.message}</div>}
          {results.status === 'ok' && rows.length === 0 && (
            <div className="search-note">No dataset or job name contains “{debounced}”.</div>
          )}
          {rows.map((r, i) => (
            <Link
              key={r.nodeId}
              id={`${listId}-${i}`}
              to={resultHref(r)}
              role="option"
              aria-selected={i === active}
              className={`search-row${i === active ? ' active' : ''}`}
              onMouseEnter={() => setActive(i)}
              onClick={() => {
                setOpen(false);
                if (!inline) setQ('');
              }}
            >
              <KindIcon kind={r.type} />
              <span className="search-name">{r.name}</span>
              <span className="search-ns">{r.namespace}</span>
              {inline && r.updatedAt && <span className="search-time">{formatTime(r.updatedAt)}</span>}
            </Link>
          ))}
        </div>
      )}
    </div>
  );
}
