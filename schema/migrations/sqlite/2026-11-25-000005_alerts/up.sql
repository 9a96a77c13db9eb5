-- Saved searches and their webhook alerts (DESIGN.md section 9; see
-- docs/alerts.md). Only types both backends share; timestamps are set by
-- the application.
-- Keep in step with migrations/postgres.

-- A search a member or analyst saved, with the webhook to notify when a
-- newly published report matches it.
CREATE TABLE saved_searches (
    id TEXT PRIMARY KEY NOT NULL,
    -- who owns it: 'operator' (every reporter client of a member), 'client'
    -- (an analyst API client), 'user' (a web user) or 'external' (a
    -- subject of a configured identity provider)
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    -- the role whose visibility applies ('reporter' or 'analyst')
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    -- the query string, in the syntax of GET /api/v1/search
    search TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    -- the signing secret is derived from this salt with the registry's
    -- ownership secret; the secret itself is never stored
    secret_salt TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    disabled_reason TEXT,
    disabled_at TIMESTAMP,
    -- failed delivery attempts in a row (any delivery); reset by a success
    consecutive_failures INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX saved_searches_owner ON saved_searches (owner_kind, owner_id);

-- One notification of one saved search about one revision of a report:
-- the UNIQUE key makes recording a match idempotent (replays, replicas).
CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    saved_search_id TEXT NOT NULL REFERENCES saved_searches (id) ON DELETE CASCADE,
    report_id TEXT NOT NULL REFERENCES reports (id),
    revision INTEGER NOT NULL,
    -- 'report.published' or 'report.amended'
    event TEXT NOT NULL,
    -- the JSON body sent (only what the subscriber may read)
    payload TEXT NOT NULL,
    -- 'pending', 'failed' (a retry is due at next_attempt_at), 'delivered'
    -- or 'abandoned'
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    UNIQUE (saved_search_id, report_id, revision)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_search ON alert_deliveries (saved_search_id, created_at);

-- How far the matcher has followed the report change log ('matcher').
CREATE TABLE alert_cursors (
    name TEXT PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
