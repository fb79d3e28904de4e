-- A run's inputs and outputs move into the run's row, as a JSON array (`io`) of
-- `{"dir": "in"|"out", "dataset", "version"?, "bind_time", "facets"}` sorted by direction and
-- dataset. As rows of their own they were four of a realistic event's fifteen rows, each with
-- its primary key's entry, while every event rewrites its run's row anyway. Readers bind each
-- entry to a version as they did the rows.
ALTER TABLE runs ADD COLUMN io TEXT NOT NULL DEFAULT '[]';
UPDATE runs SET io = (
    SELECT json_group_array(json_object('dir', direction, 'dataset', dataset_id,
                                        'version', version_id, 'bind_time', bind_time,
                                        'facets', json(facets)))
    FROM (SELECT * FROM run_io WHERE run_io.run_uuid = runs.uuid ORDER BY direction, dataset_id)
)
WHERE EXISTS (SELECT 1 FROM run_io WHERE run_io.run_uuid = runs.uuid);
DROP TABLE run_io;
-- Rows kept in memory by a writer of the old layout are not this one's.
UPDATE model_epoch SET epoch = epoch + 1;
