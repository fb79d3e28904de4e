-- Version tags: a label (`v1.2.0`, `prod`, …) on one version of a dataset. A tag names at most
-- one version of a dataset at a time; moving or removing it closes its row (`untagged_at`), so
-- the history of every tag stays. Not derived from events: `rebuild` leaves them alone (version
-- ids are deterministic, so tags still point at the rebuilt versions).
CREATE TABLE dataset_version_tags (
    dataset_id  TEXT   NOT NULL,
    tag         TEXT   NOT NULL,
    version_id  TEXT   NOT NULL,
    tagged_at   BIGINT NOT NULL,
    untagged_at BIGINT
);
CREATE UNIQUE INDEX dataset_version_tags_live ON dataset_version_tags (dataset_id, tag) WHERE untagged_at IS NULL;
CREATE INDEX dataset_version_tags_by_version ON dataset_version_tags (version_id);

-- Retention deletes runs and versions by these.
CREATE INDEX dataset_versions_by_run ON dataset_versions (created_by_run);
CREATE INDEX runs_by_last_event ON runs (last_event_time);
