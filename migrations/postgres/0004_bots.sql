-- Robots: the custom webhook robots of groups (DingTalk-compatible) and
-- the log of every call made to them. A robot's message is an ordinary
-- message that names its robot instead of a member (sender_id is NULL),
-- and keeps the robot's name and picture as they were when it was sent.

ALTER TABLE messages ADD COLUMN robot_id TEXT;
ALTER TABLE messages ADD COLUMN author_name TEXT;
ALTER TABLE messages ADD COLUMN author_avatar TEXT;
-- A card message's JSON (link, buttons, feed); body then holds its words.
ALTER TABLE messages ADD COLUMN card TEXT;

CREATE TABLE robots (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    avatar_url TEXT,
    -- SHA-256 (hex) of the access token; the token is shown once.
    token_hash TEXT NOT NULL UNIQUE,
    -- The signing secret sealed under the server key; NULL: no signing.
    secret_sealed TEXT,
    -- JSON arrays of text.
    keywords TEXT NOT NULL DEFAULT '[]',
    ip_allowlist TEXT NOT NULL DEFAULT '[]',
    disabled_at BIGINT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Touched by every accepted call, which serialises the rate limit of
    -- one robot across nodes (the row is locked while its calls are counted).
    last_call_at BIGINT
);
CREATE INDEX robots_conversation ON robots (conversation_id);

-- Every call to /robot/send, accepted or refused. No foreign keys: the
-- log outlives robots and groups, until the retention period prunes it.
CREATE TABLE robot_calls (
    id TEXT PRIMARY KEY,
    robot_id TEXT,
    robot_name TEXT,
    conversation_id TEXT,
    ip TEXT NOT NULL,
    msgtype TEXT,
    errcode BIGINT NOT NULL,
    errmsg TEXT NOT NULL,
    message_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX robot_calls_conversation ON robot_calls (conversation_id, created_at);
CREATE INDEX robot_calls_robot ON robot_calls (robot_id, created_at);
CREATE INDEX robot_calls_created ON robot_calls (created_at);
