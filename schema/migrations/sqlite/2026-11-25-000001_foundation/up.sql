-- Reports and the change log the indexer follows (DESIGN.md section 3).
-- Keep in step with migrations/postgres: same version names, same tables.

CREATE TABLE reports (
    id TEXT PRIMARY KEY NOT NULL,
    -- keyed hash of the filing operator: see DESIGN.md section 6
    owner_key TEXT NOT NULL,
    status TEXT NOT NULL,
    tlp TEXT NOT NULL,
    revision INTEGER NOT NULL,
    -- the validated, anonymised report content as JSON
    content TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
CREATE INDEX reports_owner_status ON reports (owner_key, status);
CREATE INDEX reports_status_published ON reports (status, published_at);

-- AUTOINCREMENT: sequence numbers are never reused, even after deletes.
CREATE TABLE report_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    report_id TEXT NOT NULL REFERENCES reports (id),
    kind TEXT NOT NULL,
    revision INTEGER NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX report_changes_report ON report_changes (report_id);
