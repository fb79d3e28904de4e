-- Tributary schema, Postgres. Times are microseconds since the Unix epoch (UTC); ids are UUID text.
-- Keep in step with migrations/sqlite/0001_initial.sql (same tables, same columns).

-- The raw log is partitioned by month of event time (partitions are created on demand by the
-- writer), so retention can drop whole partitions.
CREATE TABLE lineage_events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    hash          BYTEA   NOT NULL,
    event_time    BIGINT  NOT NULL,
    received_at   BIGINT  NOT NULL,
    kind          TEXT    NOT NULL,
    event_type    TEXT,
    run_uuid      TEXT,
    job_namespace TEXT,
    job_name      TEXT,
    producer      TEXT    NOT NULL,
    body          BYTEA   NOT NULL,
    body_len      BIGINT  NOT NULL,
    warnings      TEXT,
    PRIMARY KEY (seq, event_time),
    UNIQUE (hash, event_time)
) PARTITION BY RANGE (event_time);
-- Lets partitions be created by any replica without racing on names.
CREATE TABLE lineage_event_partitions (
    month_start BIGINT PRIMARY KEY,
    table_name  TEXT NOT NULL
);
CREATE INDEX lineage_events_by_time ON lineage_events (event_time, seq);
CREATE INDEX lineage_events_by_run ON lineage_events (run_uuid);

CREATE TABLE namespaces (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    owner       TEXT,
    description TEXT,
    deleted_at  BIGINT
);

CREATE TABLE sources (
    name           TEXT PRIMARY KEY,
    type           TEXT,
    connection_url TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE datasets (
    id                   TEXT PRIMARY KEY,
    namespace            TEXT   NOT NULL,
    name                 TEXT   NOT NULL,
    source_name          TEXT,
    dataset_type         TEXT,
    facets               TEXT   NOT NULL,
    current_version_id   TEXT,
    current_version_time BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    deleted_at           BIGINT,
    UNIQUE (namespace, name)
);

-- Every name a dataset is known by: its own, and aliases from `symlinks` facets. `name_key` is
-- the id the name would have as a dataset of its own (derived from namespace and name), so a
-- batch looks names up by one indexed key.
CREATE TABLE dataset_names (
    name_key     TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    dataset_id   TEXT NOT NULL,
    symlink_type TEXT,
    UNIQUE (namespace, name)
);
CREATE INDEX dataset_names_by_dataset ON dataset_names (dataset_id);

CREATE TABLE dataset_versions (
    id               TEXT PRIMARY KEY,
    dataset_id       TEXT   NOT NULL,
    producer_version TEXT,
    created_by_run   TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    facets           TEXT   NOT NULL,
    io_facets        TEXT   NOT NULL,
    checksum         TEXT   NOT NULL
);
CREATE INDEX dataset_versions_by_dataset ON dataset_versions (dataset_id, created_at);

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    namespace     TEXT   NOT NULL,
    name          TEXT   NOT NULL,
    parent_job_id TEXT,
    job_type      TEXT,
    facets        TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT,
    UNIQUE (namespace, name)
);

CREATE TABLE job_versions (
    id               TEXT PRIMARY KEY,
    job_id           TEXT    NOT NULL,
    inputs           TEXT    NOT NULL,
    outputs          TEXT    NOT NULL,
    location         TEXT,
    sql              TEXT,
    valid_from       BIGINT  NOT NULL,
    defined_by_event INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX job_versions_by_job ON job_versions (job_id, valid_from);

CREATE TABLE job_version_io (
    job_version_id TEXT NOT NULL,
    direction      TEXT NOT NULL,
    dataset_id     TEXT NOT NULL,
    PRIMARY KEY (job_version_id, direction, dataset_id)
);
CREATE INDEX job_version_io_by_dataset ON job_version_io (dataset_id, direction);

CREATE TABLE runs (
    uuid             TEXT PRIMARY KEY,
    run_id           TEXT   NOT NULL,
    job_id           TEXT   NOT NULL,
    job_version_id   TEXT,
    parent_run_uuid  TEXT,
    state            TEXT   NOT NULL,
    start_time       BIGINT,
    running_time     BIGINT,
    terminal_time    BIGINT,
    terminal_type    TEXT,
    first_event_time BIGINT NOT NULL,
    last_event_time  BIGINT NOT NULL,
    nominal_start    BIGINT,
    nominal_end      BIGINT,
    facets           TEXT   NOT NULL,
    job_facets       TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX runs_by_job ON runs (job_id, first_event_time);
CREATE INDEX runs_by_job_version ON runs (job_version_id);
CREATE INDEX runs_by_parent ON runs (parent_run_uuid);

CREATE TABLE run_io (
    run_uuid   TEXT   NOT NULL,
    direction  TEXT   NOT NULL,
    dataset_id TEXT   NOT NULL,
    version_id TEXT,
    bind_time  BIGINT NOT NULL,
    facets     TEXT   NOT NULL,
    PRIMARY KEY (run_uuid, direction, dataset_id)
);
CREATE INDEX run_io_by_dataset ON run_io (dataset_id, direction);

-- Large JSON texts are only stored and handed back, never parsed by Postgres: lz4 compresses
-- them several times faster than the default pglz. Event bodies are already lz4-compressed by
-- the writer, so Postgres should not try again.
ALTER TABLE lineage_events ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE datasets ALTER COLUMN facets SET COMPRESSION lz4;
ALTER TABLE dataset_versions ALTER COLUMN facets SET COMPRESSION lz4;
ALTER TABLE dataset_versions ALTER COLUMN io_facets SET COMPRESSION lz4;
ALTER TABLE jobs ALTER COLUMN facets SET COMPRESSION lz4;
ALTER TABLE job_versions ALTER COLUMN sql SET COMPRESSION lz4;
ALTER TABLE runs ALTER COLUMN facets SET COMPRESSION lz4;
ALTER TABLE runs ALTER COLUMN job_facets SET COMPRESSION lz4;
ALTER TABLE run_io ALTER COLUMN facets SET COMPRESSION lz4;
