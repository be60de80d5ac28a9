-- Approvals (crates/approvals): templates with every version kept (an
-- instance keeps the version it was submitted under), instances with the
-- steps routing chose at submission, one task per approver (or CC) per
-- step, and the trail of everything that happened.

CREATE TABLE approval_templates (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- leave, expense, purchase, travel, or custom.
    category TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL,
    disabled_at BIGINT,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX approval_templates_org ON approval_templates (org_id);

CREATE TABLE approval_template_versions (
    template_id TEXT NOT NULL REFERENCES approval_templates(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    -- JSON: the form's fields and the flow.
    fields TEXT NOT NULL,
    flow TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

CREATE TABLE approval_instances (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    template_id TEXT NOT NULL REFERENCES approval_templates(id),
    template_version BIGINT NOT NULL,
    submitter_id TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    -- JSON: the cleaned form values, and the steps routing chose.
    form_values TEXT NOT NULL,
    steps TEXT NOT NULL,
    -- The step being decided (an index into steps).
    step_index BIGINT NOT NULL,
    -- pending, approved, rejected, withdrawn, returned.
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX approval_instances_submitter ON approval_instances (org_id, submitter_id, created_at);
CREATE INDEX approval_instances_template ON approval_instances (template_id, created_at);

CREATE TABLE approval_tasks (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES approval_instances(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    step_index BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    -- approve, or cc.
    kind TEXT NOT NULL,
    assignee_id TEXT NOT NULL REFERENCES users(id),
    -- The approver the task was moved from (delegate, transfer).
    moved_from TEXT,
    -- pending, approved, rejected, cancelled, returned, moved; cc tasks: cc.
    status TEXT NOT NULL,
    comment TEXT,
    due_at BIGINT,
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX approval_tasks_assignee ON approval_tasks (assignee_id, status, created_at);
CREATE INDEX approval_tasks_instance ON approval_tasks (instance_id, step_index);

CREATE TABLE approval_trail (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES approval_instances(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor_id TEXT,
    -- submitted, approved, rejected, withdrawn, routed, auto_approved,
    -- cc, archived, …
    action TEXT NOT NULL,
    comment TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX approval_trail_instance ON approval_trail (instance_id, at);

-- Each member may name a delegate: tasks still undecided at their
-- deadline move to the delegate, and during an out-of-office period every
-- new task goes to the delegate at once.
CREATE TABLE approval_delegates (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delegate_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    away_from BIGINT,
    away_until BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
