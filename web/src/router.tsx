//! A tiny history-API router: the current location as React state, `navigate`, `<Link>`, and
//! helpers to read and write query parameters.

import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const listeners = new Set<() => void>();

function subscribe(fn: () => void) {
  listeners.add(fn);
  window.addEventListener('popstate', fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener('popstate', fn);
  };
}

function snapshot() {
  return window.location.pathname + window.location.search;
}

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  listeners.forEach((fn) => fn());
}

export interface Location {
  path: string;
  /** Path segments, URL-decoded. */
  segments: string[];
  query: URLSearchParams;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot, snapshot);
  const url = new URL(href, 'http://x');
  const segments = url.pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { path: url.pathname, segments, query: url.searchParams };
}

/** Returns the current path with some query parameters set (null/undefined/'' removes one). */
export function withQuery(loc: Location, changes: Record<string, string | string[] | null | undefined>): string {
  const q = new URLSearchParams(loc.query);
  for (const [key, value] of Object.entries(changes)) {
    q.delete(key);
    if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
    else if (value !== null && value !== undefined && value !== '') q.set(key, value);
  }
  const s = q.toString();
  return s ? `${loc.path}?${s}` : loc.path;
}

export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
