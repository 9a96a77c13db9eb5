-- A counter bumped in the same transaction as every change to who may act
-- or what is scrubbed (operator registered, sensitive terms changed, client
-- revoked). Caches of credentials and anonymisation matchers are valid
-- while it stays the same, so they need no query per request.
CREATE TABLE identity_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);

INSERT INTO identity_epoch (id, value) VALUES (1, 0);
