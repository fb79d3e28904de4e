-- A dataset's facets are kept with the event time that set each one (`{"name": {"t", "v"}}`), so
-- that a late event never overrides a newer one. Every event that names a dataset moves those
-- times on, and a table read by many jobs was rewritten whole (its schema, 2-10 KB) by every
-- one of them with the same values. When only the times moved, the writer now leaves `facets` as
-- it is and writes the times alone here (`{"name": t}`), which override those in `facets`; NULL
-- when `facets` holds the latest times itself.
ALTER TABLE datasets ADD COLUMN facet_times TEXT;
