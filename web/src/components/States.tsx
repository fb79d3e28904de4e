//! Loading, error and empty states, so no view is ever blank.

import type { ReactNode } from 'react';
import type { Async } from '../hooks';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorBox({ error, title = 'Something went wrong' }: { error: Error; title?: string }) {
  return (
    <div className="state state-error" role="alert">
      <strong>{title}</strong>
      <span className="state-message">{error.message}</span>
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <strong>{title}</strong>
      {children && <span className="state-message">{children}</span>}
    </div>
  );
}

/** Renders an async value's loading and error states, and `render(data)` once it is there. */
export function AsyncView<T>({
  value,
  render,
  loading,
  errorTitle,
}: {
  value: Async<T>;
  render: (data: T) => ReactNode;
  loading?: string;
  errorTitle?: string;
}) {
  if (value.status === 'loading') return <Loading label={loading} />;
  if (value.status === 'error') return <ErrorBox error={value.error} title={errorTitle} />;
  return <>{render(value.data)}</>;
}
