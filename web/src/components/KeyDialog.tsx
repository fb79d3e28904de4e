//! Asks for an API key: when the server refused a request for want of one (or of a scope), or
//! when the user opens it from the header. The key is kept in this browser (see `api.apiKey`).

import { useState, type FormEvent } from 'react';
import { apiKey, setApiKey, type KeyRequest } from '../api';

export function KeyDialog({ request, onClose }: { request: KeyRequest | null; onClose: () => void }) {
  const [value, setValue] = useState('');
  const current = apiKey();
  const use = (e: FormEvent) => {
    e.preventDefault();
    setApiKey(value.trim());
    onClose();
    // Everything on the page is asked for again, with the key.
    window.location.reload();
  };
  const forget = () => {
    setApiKey(null);
    onClose();
    window.location.reload();
  };
  return (
    <div className="modal-backdrop">
      <form className="modal" role="dialog" aria-modal="true" aria-labelledby="key-title" onSubmit={use}>
        <h2 id="key-title">API key</h2>
        {request && (
          <p className="modal-reason" role="alert">
            {request.status === 403
              ? current
                ? 'The key in use may not do this.'
                : 'This request was refused.'
              : current
                ? 'The server does not accept the key in use.'
                : 'This server needs an API key for this.'}{' '}
            <span className="muted">{request.message}</span>
          </p>
        )}
        <p className="muted">
          An administrator makes keys with <code>tributary keys create --name NAME --scope read|admin</code>. Browsing needs
          the <code>read</code> scope where reads are protected; tagging versions needs <code>admin</code>. The key stays
          in this browser until you forget it.
        </p>
        <input
          className="input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          aria-label="API key"
          placeholder="trb_…"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          autoFocus
        />
        <div className="modal-actions">
          {current && (
            <button type="button" className="btn" onClick={forget}>
              Forget the key
            </button>
          )}
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!value.trim()}>
            Use this key
          </button>
        </div>
      </form>
    </div>
  );
}
