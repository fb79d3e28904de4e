//! Data loading as a small state machine (loading, error, data) that cancels stale requests.

import { useEffect, useState } from 'react';

export type Async<T> =
  | { status: 'loading' }
  | { status: 'error'; error: Error }
  | { status: 'ok'; data: T };

/** Runs `load` whenever `deps` change; aborts the previous request. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<Async<T>>({ status: 'loading' });
  useEffect(() => {
    const ctl = new AbortController();
    setState({ status: 'loading' });
    load(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ status: 'ok', data });
      },
      (error: Error) => {
        if (!ctl.signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
