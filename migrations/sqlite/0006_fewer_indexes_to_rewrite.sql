-- Every event that touches a dataset or a job rewrites its row (its facets' times move on), and
-- each index on a column the rewrite changes costs an entry per rewrite.
-- The same as the index of the UNIQUE (namespace, name) constraint:
DROP INDEX IF EXISTS datasets_by_namespace;
-- `updated_at` changes on every touch; search counts every match (and sorts them) anyway.
DROP INDEX IF EXISTS datasets_by_updated;
DROP INDEX IF EXISTS jobs_by_updated;
