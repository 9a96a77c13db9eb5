-- Members, their credentials, web users, report revisions and idempotency.

CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- JSON array of other names and brands (all are scrubbed from free text)
    aliases TEXT NOT NULL,
    country TEXT,
    operator_type TEXT,
    -- JSON array of the operator's own sensitive terms (site, project, system names)
    sensitive_terms TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    -- NULL for registry clients (analyst, admin)
    operator_id TEXT REFERENCES operators (id),
    role TEXT NOT NULL,
    -- argon2 PHC string; the secret itself is never stored
    secret_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    failed_logins INTEGER NOT NULL,
    locked_until TIMESTAMP
);

-- Every revision of a report's content, readable by its owner.
CREATE TABLE report_revisions (
    report_id TEXT NOT NULL REFERENCES reports (id),
    revision INTEGER NOT NULL,
    status TEXT NOT NULL,
    content TEXT NOT NULL,
    -- JSON list of redactions (field, kind, span, placeholder; never the original text)
    redactions TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (report_id, revision)
);

-- Idempotency-Key records. `scope` is a keyed hash of the caller, so the
-- table does not link clients to the reports they created.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
