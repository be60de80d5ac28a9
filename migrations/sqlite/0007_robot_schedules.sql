-- Scheduled and check-in robots (crates/bots/src/schedule/): when a robot
-- of kind 'scheduled' or 'checkin' runs, what it posts, and the log of its
-- runs. Each schedule keeps one pending job (robot.schedule:{robot}:{due})
-- for its next occurrence; the run log and the next job are written in the
-- same transaction that completes the job.
CREATE TABLE robot_schedules (
    robot_id TEXT PRIMARY KEY REFERENCES robots(id) ON DELETE CASCADE,
    -- daily | weekdays | days | cron
    rule_kind TEXT NOT NULL,
    -- HH:MM (daily, weekdays, days)
    at_time TEXT NOT NULL DEFAULT '',
    -- ISO weekdays, e.g. '1,3,5' (days)
    days TEXT NOT NULL DEFAULT '',
    cron TEXT NOT NULL DEFAULT '',
    -- text | markdown
    body_kind TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON array of user ids; mention_all 1 for @all.
    mentions TEXT NOT NULL DEFAULT '[]',
    mention_all BIGINT NOT NULL DEFAULT 0,
    -- late (post once, late) | skip (record a skipped run)
    missed TEXT NOT NULL,
    -- Check-in robots: minutes after the run to remind who has not.
    remind_after_min BIGINT,
    paused_at BIGINT,
    -- The due time of the pending job (NULL while paused).
    next_due BIGINT,
    updated_at BIGINT NOT NULL
);

-- One row per occurrence that was due: posted, late, skipped or failed.
CREATE TABLE robot_runs (
    robot_id TEXT NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    message_id TEXT,
    ran_at BIGINT NOT NULL,
    PRIMARY KEY (robot_id, due_at)
);

-- Check-in runs: the group's members at the time of the run, and when each
-- checked in (NULL: not yet).
CREATE TABLE robot_checkins (
    robot_id TEXT NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    checked_at BIGINT,
    PRIMARY KEY (robot_id, due_at, user_id)
);
