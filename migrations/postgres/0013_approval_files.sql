-- Files uploaded to approval forms (crates/approvals/src/files.rs). The
-- contents are in the blob layer under `apf_<id>`. A file is uploaded
-- before the form is sent, so it starts unclaimed (instance_id NULL, only
-- its uploader may put it on a request); submitting claims it in the same
-- transaction as the request. Unclaimed files are swept after a day.

CREATE TABLE approval_files (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    uploader_id TEXT NOT NULL REFERENCES users(id),
    instance_id TEXT REFERENCES approval_instances(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX approval_files_instance ON approval_files (instance_id);
CREATE INDEX approval_files_unclaimed ON approval_files (uploader_id, created_at);
