//! What the shapes and colours in the graph mean.

import { RUN_STATE_COLOURS } from './Badges';

export function Legend({ impact }: { impact: boolean }) {
  return (
    <div className="legend" aria-label="Legend">
      <div className="legend-row">
        <svg width="26" height="14" aria-hidden="true"><rect x="1" y="1" width="24" height="12" rx="3" className="lg-dataset" /><rect x="1" y="1" width="4" height="12" rx="2" className="lg-dataset-band" /></svg>
        Dataset
      </div>
      <div className="legend-row">
        <svg width="26" height="14" aria-hidden="true"><rect x="1" y="1" width="24" height="12" rx="3" className="lg-model" /><rect x="1" y="1" width="4" height="12" rx="2" className="lg-model-band" /></svg>
        Model
      </div>
      <div className="legend-row">
        <svg width="26" height="14" aria-hidden="true"><rect x="1" y="1" width="24" height="12" rx="6" className="lg-job" /></svg>
        Job, dot = latest run:
      </div>
      <div className="legend-states">
        {Object.entries(RUN_STATE_COLOURS).map(([state, colour]) => (
          <span key={state} className="legend-state">
            <span className="dot" style={{ background: colour }} />
            {state.toLowerCase()}
          </span>
        ))}
      </div>
      {impact && (
        <div className="legend-row">
          <svg width="26" height="14" aria-hidden="true"><rect x="1" y="1" width="24" height="12" rx="3" className="lg-hot" /></svg>
          Affected (downstream)
        </div>
      )}
      <div className="legend-hint">Drag to pan · wheel to zoom · double-click to expand</div>
    </div>
  );
}
