-- The next due job is the first waiting job by run_at: an index of the
-- waiting jobs alone, in that order, finds it in one step however many
-- are queued (a backlog of notices made PostgreSQL sort them all on
-- every claim).
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE finished_at IS NULL;
