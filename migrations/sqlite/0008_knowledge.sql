-- The AI assistant: each org's knowledge base (FAQ pairs and documents),
-- the change log its search index follows, the questions it could not
-- answer (the admin queue), the answers it gave, and members' ratings.

CREATE TABLE kb_entries (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    -- 'faq' (title: the question, body: the answer) or 'doc' (title, text).
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON array of other ways to ask an FAQ's question.
    phrasings TEXT NOT NULL DEFAULT '[]',
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX kb_entries_org ON kb_entries (org_id, kind, updated_at);

-- Every create, edit and delete of an entry, in its own transaction; each
-- node's index follows it (as message search follows message_changes).
CREATE TABLE kb_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

-- Questions the assistant could not answer, until an admin does.
CREATE TABLE kb_questions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    robot_id TEXT,
    conversation_id TEXT NOT NULL,
    -- The member's message; one queue entry per message (a retried job
    -- adds nothing).
    message_id TEXT NOT NULL UNIQUE,
    asker_id TEXT,
    question TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    answered_at BIGINT,
    answered_by TEXT,
    answer TEXT,
    -- The FAQ the answer became.
    entry_id TEXT
);
CREATE INDEX kb_questions_org ON kb_questions (org_id, answered_at, created_at);

-- The assistant's answers (its messages), and the entry each cited first.
CREATE TABLE kb_answers (
    message_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    entry_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX kb_answers_entry ON kb_answers (entry_id);

-- One rating per member per answer; changing it replaces it.
CREATE TABLE kb_ratings (
    message_id TEXT NOT NULL REFERENCES kb_answers(message_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    helpful BIGINT NOT NULL,
    rated_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
