-- Rows and index entries that every event paid for and no statement reads.
--
-- Which datasets a job version reads and writes was stored twice: as the version's `inputs` and
-- `outputs` (JSON arrays of dataset ids, sorted) and again as one `job_version_io` row each, with
-- two indexes, although nothing looks versions up by dataset (the lineage graph is held in
-- memory). Where every run's inputs vary, each event wrote four such rows, a fifth of the
-- model's rows. The arrays are now the only record; readers expand them.
DROP TABLE job_version_io;

-- Indexes no query uses: nothing looks up the log's events or the runs by run id or parent, run
-- inputs and outputs by dataset, versions by the run that wrote them, or a dataset's names by the
-- dataset (names are looked up by key or by namespace and name); retention reads the runs and
-- versions whole and deletes by key. Each cost an entry (a random key's descent) per row, and
-- the one on `last_event_time`, which every event of a run moves, ruled out the runs' heap-only
-- updates.
DROP INDEX lineage_events_by_run;
DROP INDEX runs_by_parent;
DROP INDEX runs_by_last_event;
DROP INDEX run_io_by_dataset;
DROP INDEX dataset_versions_by_run;
DROP INDEX dataset_names_by_dataset;
