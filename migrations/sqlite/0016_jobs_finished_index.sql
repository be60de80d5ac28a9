-- The next due job is found by `jobs_waiting` (0014); the only other
-- question asked of jobs by time is which finished ones are old enough to
-- prune. An index of the finished jobs alone answers it, and a new job
-- (not finished) costs no entry in it.
DROP INDEX jobs_due;
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
