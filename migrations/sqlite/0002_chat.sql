-- Chat: conversations (1:1 and groups), their members, messages with a
-- per-conversation sequence number, attachments, read marks and
-- do-not-disturb settings. The notification centre is computed from these
-- (unread messages that arrived during quiet time), so sending a message
-- writes nothing per recipient.

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT,
    -- For 1:1 chats: both user ids, sorted, so a pair has one conversation.
    direct_key TEXT UNIQUE,
    announcement TEXT,
    announcement_by TEXT,
    announcement_at BIGINT,
    created_by TEXT NOT NULL REFERENCES users(id),
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT,
    dissolved_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX conversations_org ON conversations (org_id);

CREATE TABLE conversation_members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    read_seq BIGINT NOT NULL DEFAULT 0,
    muted BIGINT NOT NULL DEFAULT 0,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_user ON conversation_members (user_id);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    uploader_id TEXT NOT NULL REFERENCES users(id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    sender_id TEXT REFERENCES users(id),
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    mentions TEXT NOT NULL DEFAULT '[]',
    mention_all BIGINT NOT NULL DEFAULT 0,
    reply_to TEXT,
    attachment_id TEXT REFERENCES attachments(id),
    client_id TEXT,
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    recalled_at BIGINT,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_id)
);

CREATE TABLE quiet_hours (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    enabled BIGINT NOT NULL DEFAULT 0,
    time_zone TEXT NOT NULL,
    periods TEXT NOT NULL,
    allow_mentions BIGINT NOT NULL DEFAULT 1,
    allow_from TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL
);
