-- Which versions may be their dataset's current one: those a run wrote or an event described
-- (not those only read). Kept so that when a late event moves a dataset's current version back
-- in time, the commit can find the best of its other versions, whatever order events came in.
ALTER TABLE dataset_versions ADD COLUMN may_be_current INTEGER NOT NULL DEFAULT 1;

-- Versions stored before: written by a run, or current, may be current; the rest (read-only
-- versions, and earlier DatasetEvent versions since superseded) may not. `tributary rebuild`
-- settles them exactly from the event log.
UPDATE dataset_versions SET may_be_current = 0
WHERE created_by_run IS NULL
  AND id NOT IN (SELECT current_version_id FROM datasets WHERE current_version_id IS NOT NULL);

CREATE INDEX dataset_versions_best
    ON dataset_versions (dataset_id, may_be_current, created_at, id);
