-- The position of each change in the log. SQLite has one writer at a time
-- and numbers changes inside its write lock, so commit order is sequence
-- order: the position is the sequence number itself.
ALTER TABLE report_changes ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
UPDATE report_changes SET txid = seq;
CREATE TRIGGER report_changes_position AFTER INSERT ON report_changes
BEGIN
    UPDATE report_changes SET txid = NEW.seq WHERE seq = NEW.seq;
END;
CREATE INDEX report_changes_position ON report_changes (txid, seq);
