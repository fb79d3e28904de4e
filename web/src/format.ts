//! Formatting of times, durations and numbers for display.

export function formatTime(iso?: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/:00Z$/, 'Z');
}

export function formatDuration(ms?: number | null): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m - h * 60} min`;
}

export function formatNumber(n?: number | null): string {
  if (n === null || n === undefined) return '—';
  return n.toLocaleString('en-US');
}

/** A long id (UUID, hash) shortened to its head and tail: time-ordered UUIDs (v7) share their
 *  head, hashes differ in it, so both ends are kept. */
export function shortVersion(v: string): string {
  return v.length > 16 ? `${v.slice(0, 8)}…${v.slice(-4)}` : v;
}

/** `2024-05-01T10:00` (a datetime-local value, read as UTC) from an RFC 3339 time. */
export function toLocalInput(iso?: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().slice(0, 16);
}

/** RFC 3339 from a datetime-local value, read as UTC. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value.length === 16 ? `${value}:00Z` : `${value}Z`);
  if (Number.isNaN(d.getTime())) return null;
  return d.toISOString().replace(/\.000Z$/, 'Z');
}
