-- PostgreSQL's own rate: one single-row INSERT per transaction (autocommit).
INSERT INTO bench_scratch.single_insert (payload) VALUES ('an anonymised outage report, filed by a member operator');
