-- Foundation: accounts, sessions and devices, verification codes, QR login,
-- organisations, members, departments, invitations, device approvals, the
-- audit log and the development outbox.
-- Times are Unix milliseconds (BIGINT); ids are TEXT; flags are nullable
-- timestamps or BIGINT 0/1, so the same statements run on both backends.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    phone TEXT UNIQUE,
    email TEXT UNIQUE,
    password_hash TEXT,
    locale TEXT NOT NULL DEFAULT 'zh-HK',
    time_zone TEXT NOT NULL DEFAULT 'Asia/Hong_Kong',
    totp_secret TEXT,
    totp_pending_secret TEXT,
    totp_enabled_at BIGINT,
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    is_server_admin BIGINT NOT NULL DEFAULT 0,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE verification_codes (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    ip TEXT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    invalidated_at BIGINT
);
CREATE INDEX verification_codes_destination ON verification_codes (destination, created_at);
CREATE INDEX verification_codes_ip ON verification_codes (ip, created_at);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL,
    name TEXT,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    first_ip TEXT NOT NULL,
    last_ip TEXT NOT NULL,
    trusted_at BIGINT,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    UNIQUE (user_id, key_hash)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    org_id TEXT,
    method TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_device ON sessions (device_id);

CREATE TABLE login_challenges (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE qr_tickets (
    id TEXT PRIMARY KEY,
    scan_token_hash TEXT NOT NULL UNIQUE,
    browser_key_hash TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT,
    consumed_at BIGINT
);

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL DEFAULT 'Asia/Hong_Kong',
    require_device_approval BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    parent_id TEXT REFERENCES departments(id),
    name TEXT NOT NULL,
    head_user_id TEXT REFERENCES users(id),
    sort_order BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX departments_org ON departments (org_id);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    title TEXT,
    department_id TEXT REFERENCES departments(id),
    manager_user_id TEXT REFERENCES users(id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    note TEXT,
    max_uses BIGINT NOT NULL,
    uses BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE device_approvals (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT REFERENCES users(id),
    decided_at BIGINT,
    PRIMARY KEY (org_id, device_id)
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    user_id TEXT,
    actor_id TEXT,
    kind TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (org_id, created_at);
CREATE INDEX audit_events_user ON audit_events (user_id, created_at);

CREATE TABLE dev_outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Instance-wide facts, e.g. that first-run setup has happened (its primary
-- key makes a second, concurrent setup fail).
CREATE TABLE instance_settings (
    setting_key TEXT PRIMARY KEY,
    setting_value TEXT NOT NULL
);
