-- Outgoing robots (DingTalk's "outgoing" / receive mode) and robot scopes: a custom robot
-- may have a callback address that Tram POSTs to when a member @mentions
-- it, signed with an app secret the server generated (sealed under the
-- server key, shown once). The developer answers in the response or later
-- through a session webhook, whose token is kept only as its SHA-256.

CREATE TABLE robot_outgoing (
    robot_id TEXT PRIMARY KEY REFERENCES robots(id) ON DELETE CASCADE,
    callback_url TEXT NOT NULL,
    app_secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE robot_sessions (
    token_hash TEXT PRIMARY KEY,
    robot_id TEXT NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    -- The message the callback was about.
    message_id TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX robot_sessions_expiry ON robot_sessions (expires_at);

-- The call log holds calls in both directions: 'in' (a client called
-- /robot/send or /robot/sendBySession) and 'out' (Tram called the robot's
-- server; one row per attempt). Only 'in' rows count against the rate limit.
ALTER TABLE robot_calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'in';
ALTER TABLE robot_calls ADD COLUMN attempt BIGINT;

-- A robot's scopes (least privilege): a JSON array of `post`, `receive`,
-- `read_members`, `start_forms`. NULL keeps the defaults: `post`, plus
-- `receive` while the robot has outgoing settings.
ALTER TABLE robots ADD COLUMN scopes TEXT;
