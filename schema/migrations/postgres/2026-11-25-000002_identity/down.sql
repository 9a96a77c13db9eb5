DROP TABLE idempotency_keys;
DROP TABLE report_revisions;
DROP TABLE users;
DROP TABLE api_clients;
DROP TABLE operators;
