-- A leaner SQL sequence for the same filing (a proposal, not what incidex
-- does today; 13 round trips instead of 30): no check-out `SELECT 1`, one
-- client lookup per request, no savepoints, the idempotency record inserted
-- with ON CONFLICT DO NOTHING inside the transaction (looked up only on
-- conflict) and holding a small response reference, the anonymiser's operator
-- data cached in memory, and publish as one conditional UPDATE ... RETURNING
-- that leaves the content alone. Same durability: two commits per filing.
SELECT gen_random_uuid()::text AS rid, md5(random()::text) AS k1, md5(random()::text) AS k2, (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 72) g) AS content \gset
-- POST /api/v1/reports
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
BEGIN;
INSERT INTO bench_scratch.reports VALUES (:rid, 'owner', 'draft', 'clear', 1, :content, now(), now(), NULL);
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'created', 1, now()) RETURNING seq;
INSERT INTO bench_scratch.revisions VALUES (:rid, 1, :content, '[]', now());
INSERT INTO bench_scratch.idem VALUES ('scope', :k1, 'hash', 201, :rid, now()) ON CONFLICT DO NOTHING;
COMMIT;
-- POST /api/v1/reports/{id}/publish
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
BEGIN;
UPDATE bench_scratch.reports SET status = 'published', updated_at = now(), published_at = now() WHERE id = :rid AND owner_key = 'owner' AND status = 'draft' RETURNING revision, content;
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'published', 1, now()) RETURNING seq;
INSERT INTO bench_scratch.idem VALUES ('scope', :k2, 'hash', 200, :rid, now()) ON CONFLICT DO NOTHING;
COMMIT;
