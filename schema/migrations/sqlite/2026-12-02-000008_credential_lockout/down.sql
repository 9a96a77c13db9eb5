ALTER TABLE users DROP COLUMN last_failed_at;
ALTER TABLE api_clients DROP COLUMN last_failed_at;
ALTER TABLE api_clients DROP COLUMN locked_until;
ALTER TABLE api_clients DROP COLUMN failed_attempts;
