-- Periodic digests (DESIGN.md section 9; docs/digests.md). One row per
-- (kind, period, audience): the unique key is what makes each digest be
-- produced exactly once, whatever the number of replicas. Timestamps are
-- naive UTC, set by the application.

CREATE TABLE digests (
    -- e.g. weekly-2026-W40-members (kind, period label, audience)
    id TEXT PRIMARY KEY,
    -- daily, weekly or monthly
    kind TEXT NOT NULL,
    -- members (TLP clear and green) or analysts (clear, green and amber)
    audience TEXT NOT NULL,
    -- [period_start, period_end), UTC
    period_start TIMESTAMP NOT NULL,
    period_end TIMESTAMP NOT NULL,
    -- running (claimed under a lease), done or failed
    status TEXT NOT NULL,
    -- the digest as JSON once done; every other format renders from it
    content TEXT,
    -- incidents in the digest (for lists), once done
    incidents INTEGER,
    -- who holds the lease while running, and until when
    holder TEXT,
    lease_until TIMESTAMP,
    -- claims so far (1 on the first run; retries and take-overs add one)
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    -- when the files were last written to the export directory
    exported_at TIMESTAMP,
    UNIQUE (kind, period_start, audience)
);
CREATE INDEX digests_audience_status ON digests (audience, status, period_end);

-- Amendments in a period are found from the change log.
CREATE INDEX report_changes_kind_time ON report_changes (kind, changed_at);
