-- Search: every new, edited or recalled message is logged here in the
-- transaction that changes it. Each node's search indexer follows this log
-- by id and keeps its position inside its own index, so a node whose index
-- is lost rebuilds it from the log.

CREATE TABLE message_changes (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

INSERT INTO message_changes (message_id, changed_at)
    SELECT id, created_at FROM messages ORDER BY created_at, seq;

-- Do-not-disturb settings as they were from each moment on, so the
-- notification centre judges a message by the settings in force when it
-- arrived (not by today's).
CREATE TABLE quiet_hours_history (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    valid_from BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    periods TEXT NOT NULL,
    allow_mentions BIGINT NOT NULL,
    allow_from TEXT NOT NULL,
    PRIMARY KEY (user_id, valid_from)
);

INSERT INTO quiet_hours_history (user_id, valid_from, enabled, time_zone, periods, allow_mentions, allow_from)
    SELECT user_id, updated_at, enabled, time_zone, periods, allow_mentions, allow_from FROM quiet_hours;
