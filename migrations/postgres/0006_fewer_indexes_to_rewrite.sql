-- Every event that touches a dataset or a job rewrites its row (its facets' times move on), and
-- each index on the table costs an entry per rewrite, the trigram index some thirty. An index on
-- a column the rewrite changes also rules out Postgres's heap-only (HOT) update, which writes no
-- index entry at all when the new row fits on the old one's page.
-- The same as the index of the UNIQUE (namespace, name) constraint:
DROP INDEX IF EXISTS datasets_by_namespace;
-- `updated_at` changes on every touch; search counts every match (and sorts them) anyway.
DROP INDEX IF EXISTS datasets_by_updated;
DROP INDEX IF EXISTS jobs_by_updated;
-- Room on each page for the rewritten row, so that the update can stay on it.
ALTER TABLE datasets SET (fillfactor = 80);
ALTER TABLE jobs SET (fillfactor = 80);
