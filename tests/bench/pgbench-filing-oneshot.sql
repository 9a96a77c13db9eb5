-- The lean SQL of pgbench-filing-lean.sql for a filing created already
-- published (a hypothetical `publish: true` on POST /api/v1/reports): one
-- request, one client lookup, one transaction, one commit per filing.
SELECT gen_random_uuid()::text AS rid, md5(random()::text) AS k1, (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 72) g) AS content \gset
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
BEGIN;
INSERT INTO bench_scratch.reports VALUES (:rid, 'owner', 'published', 'clear', 1, :content, now(), now(), now());
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'created', 1, now()), (:rid, 'published', 1, now()) RETURNING seq;
INSERT INTO bench_scratch.revisions VALUES (:rid, 1, :content, '[]', now());
INSERT INTO bench_scratch.idem VALUES ('scope', :k1, 'hash', 201, :rid, now()) ON CONFLICT DO NOTHING;
COMMIT;
