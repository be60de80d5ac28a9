-- Durable jobs (crates/platform/src/jobs.rs): work due at a time, run once
-- across every node. A runner takes a job by setting a lease on it; a job
-- whose lease ran out (its node died) is taken again. job_key is unique, so
-- enqueueing the same piece of work twice keeps one job.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    job_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 1,
    retry_base_ms BIGINT NOT NULL DEFAULT 1000,
    -- A random value per claim: only the holder may complete the job.
    lease TEXT,
    lease_until BIGINT,
    finished_at BIGINT,
    -- 1 when the job gave up after its last attempt.
    failed BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (finished_at, run_at);

-- A robot's message may carry an idempotency key too (a scheduled run
-- posts with one, so a run retried after a crash posts once).
CREATE UNIQUE INDEX messages_robot_client ON messages (conversation_id, robot_id, client_id);

-- What a robot is: custom (webhook, optionally outgoing), scheduled,
-- checkin, assistant.
ALTER TABLE robots ADD COLUMN kind TEXT NOT NULL DEFAULT 'custom';
