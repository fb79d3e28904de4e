-- Tags (Marquez's): on datasets, on dataset fields, on jobs. Not derived from events, so
-- `rebuild` leaves them alone.
CREATE TABLE tags (
    name        TEXT PRIMARY KEY,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE dataset_tags (
    dataset_id TEXT   NOT NULL,
    tag        TEXT   NOT NULL,
    tagged_at  BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, tag)
);

CREATE TABLE dataset_field_tags (
    dataset_id TEXT   NOT NULL,
    field      TEXT   NOT NULL,
    tag        TEXT   NOT NULL,
    tagged_at  BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, field, tag)
);

CREATE TABLE job_tags (
    job_id    TEXT   NOT NULL,
    tag       TEXT   NOT NULL,
    tagged_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, tag)
);

CREATE INDEX datasets_by_namespace ON datasets (namespace, name);
CREATE INDEX datasets_by_updated ON datasets (updated_at);
CREATE INDEX jobs_by_updated ON jobs (updated_at);

-- Listings page and count live rows of a namespace from these alone.
CREATE INDEX datasets_live_by_namespace ON datasets (namespace, name) WHERE deleted_at IS NULL;
CREATE INDEX jobs_live_by_namespace ON jobs (namespace, name) WHERE deleted_at IS NULL;
