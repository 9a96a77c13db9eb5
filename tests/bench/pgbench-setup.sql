-- Scratch tables for tests/bench/filing.sh's pgbench runs (schema bench_scratch,
-- dropped afterwards).
CREATE SCHEMA bench_scratch;
-- plain single-row insert
CREATE TABLE bench_scratch.single_insert (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now()
);
-- the filing's tables, same shape as incidex's own (profiling aid)
CREATE TABLE bench_scratch.operators (id TEXT PRIMARY KEY, name TEXT NOT NULL, sensitive_terms TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
CREATE TABLE bench_scratch.clients (id TEXT PRIMARY KEY, operator_id TEXT, role TEXT NOT NULL, secret_hash TEXT NOT NULL, expires_at TIMESTAMP, revoked_at TIMESTAMP);
CREATE TABLE bench_scratch.reports (id TEXT PRIMARY KEY, owner_key TEXT NOT NULL, status TEXT NOT NULL, tlp TEXT NOT NULL, revision INTEGER NOT NULL, content TEXT NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, published_at TIMESTAMP);
CREATE INDEX ON bench_scratch.reports (owner_key, status);
CREATE INDEX ON bench_scratch.reports (status, published_at);
CREATE TABLE bench_scratch.changes (seq BIGSERIAL PRIMARY KEY, report_id TEXT NOT NULL REFERENCES bench_scratch.reports (id), kind TEXT NOT NULL, revision INTEGER NOT NULL, changed_at TIMESTAMP NOT NULL);
CREATE INDEX ON bench_scratch.changes (report_id);
CREATE TABLE bench_scratch.revisions (report_id TEXT NOT NULL REFERENCES bench_scratch.reports (id), revision INTEGER NOT NULL, content TEXT NOT NULL, redactions TEXT NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (report_id, revision));
CREATE TABLE bench_scratch.idem (scope TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, response_status INTEGER NOT NULL, response_body TEXT NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (scope, idem_key));
INSERT INTO bench_scratch.operators VALUES ('op_bench', 'Bench Mobile', '[]', now());
INSERT INTO bench_scratch.clients VALUES ('ic_bench', 'op_bench', 'reporter', repeat('h', 97), NULL, NULL);
