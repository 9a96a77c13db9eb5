-- Clusters of similar incidents and lessons learned (DESIGN.md sections 4
-- and 7). Only types both backends share; timestamps are set by the
-- application. See docs/clusters-and-lessons.md.

CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    -- label and top terms computed from every published member (a cache:
    -- shown only to readers who may see every member it was computed from)
    label TEXT NOT NULL,
    -- JSON array of the distinctive terms, as written in the reports
    top_terms TEXT NOT NULL,
    -- JSON: the indexer's Centroid (strongest terms and their weights, size)
    centroid TEXT NOT NULL,
    -- hash of the member ids and revisions the label was computed from
    label_basis TEXT NOT NULL,
    -- JSON array of {basis, label, top_terms}: labels of the members each
    -- reader class may see (members: clear and green; analysts: and amber)
    shared_labels TEXT NOT NULL,
    -- publication times of the earliest and latest member
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per clustered (published) report: every replica reads the same
-- assignment.
CREATE TABLE cluster_members (
    report_id TEXT PRIMARY KEY REFERENCES reports (id),
    cluster_id TEXT NOT NULL REFERENCES clusters (id),
    joined_at TIMESTAMP NOT NULL
);
CREATE INDEX cluster_members_cluster ON cluster_members (cluster_id);

-- A lesson: from a published report (report_id, position) or curated by an
-- analyst for a cluster (cluster_id). The report_* columns copy the report's
-- shared fields used as filters, refreshed whenever the report changes.
CREATE TABLE lessons (
    id TEXT PRIMARY KEY,
    report_id TEXT REFERENCES reports (id),
    cluster_id TEXT REFERENCES clusters (id),
    position INTEGER NOT NULL,
    -- anonymised text
    text TEXT NOT NULL,
    category TEXT NOT NULL,
    -- 'report' or 'curated'
    source TEXT NOT NULL,
    -- JSON arrays of the report's services and network domains (main and other)
    report_services TEXT NOT NULL,
    report_domains TEXT NOT NULL,
    report_root_cause TEXT,
    report_trigger TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX lessons_report ON lessons (report_id);
CREATE INDEX lessons_cluster ON lessons (cluster_id);

-- "We applied this too": one row per lesson and member. endorser_key is a
-- keyed hash of the member, so the table does not say who endorsed.
CREATE TABLE lesson_endorsements (
    lesson_id TEXT NOT NULL REFERENCES lessons (id),
    endorser_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (lesson_id, endorser_key)
);

-- Completed full re-clusterings (the periodic job runs once per interval
-- across replicas).
CREATE TABLE recluster_runs (
    id TEXT PRIMARY KEY,
    finished_at TIMESTAMP NOT NULL,
    reports INTEGER NOT NULL,
    clusters INTEGER NOT NULL
);
