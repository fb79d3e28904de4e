//! Time travel: pick the moment the graph is drawn as of (UTC), by date-time or slider.

import { useEffect, useState } from 'react';
import { api } from '../api';
import { useAsync } from '../hooks';
import { fromLocalInput, toLocalInput, formatTime } from '../format';

export function TimeControl({ asOf, onChange }: { asOf: string | null; onChange: (asOf: string | null) => void }) {
  // The slider runs from the first event the server holds to now.
  const first = useAsync(
    (signal) =>
      api.events({ limit: 1, offset: 0, sortDirection: 'asc' }, signal).then((p) => {
        const t = p.events[0]?.eventTime;
        return typeof t === 'string' ? new Date(t).getTime() : null;
      }),
    [],
  );
  const [now] = useState(() => Date.now());
  const min = first.status === 'ok' && first.data !== null ? first.data : null;
  const [slider, setSlider] = useState<number | null>(null);
  const [text, setText] = useState(toLocalInput(asOf));
  useEffect(() => {
    setText(toLocalInput(asOf));
    setSlider(null);
  }, [asOf]);

  // Commit slider moves a moment after they stop.
  useEffect(() => {
    if (slider === null) return;
    const t = setTimeout(() => {
      onChange(slider >= now - 60_000 ? null : new Date(slider).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    }, 300);
    return () => clearTimeout(t);
  }, [slider, now, onChange]);

  const value = slider ?? (asOf ? new Date(asOf).getTime() : now);
  return (
    <div className={`time-control${asOf ? ' active' : ''}`}>
      <label className="field field-inline">
        <span>As of (UTC)</span>
        <input
          type="datetime-local"
          aria-label="As of (UTC)"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            const iso = fromLocalInput(e.target.value);
            if (iso || !e.target.value) onChange(iso);
          }}
        />
      </label>
      {min !== null && min < now && (
        <input
          type="range"
          className="time-slider"
          aria-label="Time travel"
          min={min}
          max={now}
          step={Math.max(1000, Math.round((now - min) / 1000))}
          value={Math.min(Math.max(value, min), now)}
          onChange={(e) => setSlider(Number(e.target.value))}
          title={slider !== null ? formatTime(new Date(slider).toISOString()) : undefined}
        />
      )}
      <button type="button" className="btn btn-small" disabled={!asOf} onClick={() => onChange(null)}>
        Now
      </button>
    </div>
  );
}
