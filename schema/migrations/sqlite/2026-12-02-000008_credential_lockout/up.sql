-- Lockout of API client secrets like web passwords, and the time of the
-- latest failure of each, so that failures long apart do not add up.
ALTER TABLE api_clients ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_clients ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE api_clients ADD COLUMN last_failed_at TIMESTAMP;
ALTER TABLE users ADD COLUMN last_failed_at TIMESTAMP;
