-- A run's inputs and outputs move into the run's row, as a JSON array (`io`) of
-- `{"dir": "in"|"out", "dataset", "version"?, "bind_time", "facets"}` sorted by direction and
-- dataset. As rows of their own they were four of a realistic event's fifteen rows, each with
-- its primary key's entry (a random run id's descent), while every event rewrites its run's row
-- anyway. Readers bind each entry to a version as they did the rows.
ALTER TABLE runs ADD COLUMN io TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ALTER COLUMN io SET COMPRESSION lz4;
UPDATE runs SET io = agg.io
FROM (
    SELECT run_uuid,
           json_agg(json_build_object('dir', direction, 'dataset', dataset_id,
                                      'version', version_id, 'bind_time', bind_time,
                                      'facets', facets::json)
                    ORDER BY direction, dataset_id)::text AS io
    FROM run_io GROUP BY run_uuid
) agg
WHERE agg.run_uuid = runs.uuid;
DROP TABLE run_io;
-- Rows kept in memory by a writer of the old layout are not this one's.
UPDATE model_epoch SET epoch = epoch + 1;
