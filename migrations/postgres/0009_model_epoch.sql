-- The model's epoch: every transaction that changes the model's rows moves it on, under the
-- writer's lock. A writer keeps the rows it committed in memory and reads them back only when
-- the epoch is not where its own last commit left it (another server, process or delete wrote
-- since).
CREATE TABLE model_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT  NOT NULL
);
INSERT INTO model_epoch (id, epoch) VALUES (1, 0);
