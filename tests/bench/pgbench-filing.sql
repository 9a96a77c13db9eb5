-- The SQL incidex sends today for one filing with Idempotency-Keys (create +
-- publish), as captured with strace from the server (30 round trips): r2d2's
-- check-out `SELECT 1`s, the per-request client lookup, the idempotency
-- lookup, the anonymiser's cache checks, diesel's nested transactions as
-- savepoints, and the whole content re-sent by the publish UPDATE. One pgbench
-- transaction is one filing. The content is ~2.3 KB of poorly compressible
-- text, like a stored report; the idempotency records hold a response body of
-- that size too.
SELECT gen_random_uuid()::text AS rid, md5(random()::text) AS k1, md5(random()::text) AS k2, (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 72) g) AS content \gset
-- POST /api/v1/reports: authentication (own pool check-out)
SELECT 1;
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
-- the handler (another check-out)
SELECT 1;
SELECT * FROM bench_scratch.idem WHERE scope = 'scope' AND idem_key = :k1;
BEGIN;
SELECT count(*), max(created_at) FROM bench_scratch.operators;
SELECT * FROM bench_scratch.operators WHERE id = 'op_bench';
SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO bench_scratch.reports VALUES (:rid, 'owner', 'draft', 'clear', 1, :content, now(), now(), NULL);
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'created', 1, now()) RETURNING seq;
RELEASE SAVEPOINT s2;
INSERT INTO bench_scratch.revisions VALUES (:rid, 1, :content, '[]', now());
RELEASE SAVEPOINT s1;
INSERT INTO bench_scratch.idem VALUES ('scope', :k1, 'hash', 201, :content, now());
COMMIT;
-- POST /api/v1/reports/{id}/publish
SELECT 1;
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
SELECT 1;
SELECT * FROM bench_scratch.idem WHERE scope = 'scope' AND idem_key = :k2;
BEGIN;
SELECT * FROM bench_scratch.reports WHERE id = :rid;
SAVEPOINT s1;
SAVEPOINT s2;
UPDATE bench_scratch.reports SET status = 'published', tlp = 'clear', revision = 1, content = :content, updated_at = now(), published_at = now() WHERE id = :rid;
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'published', 1, now()) RETURNING seq;
RELEASE SAVEPOINT s2;
RELEASE SAVEPOINT s1;
INSERT INTO bench_scratch.idem VALUES ('scope', :k2, 'hash', 200, :content, now());
COMMIT;
