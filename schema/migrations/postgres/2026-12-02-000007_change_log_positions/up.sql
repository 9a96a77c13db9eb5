-- The transaction that wrote each change, so a follower of the log can
-- take exactly the changes no running transaction can add to (those of
-- transactions below the oldest one still running), instead of waiting
-- out gaps in the sequence for a while and skipping them.
ALTER TABLE report_changes
    ADD COLUMN txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
-- Changes written before this migration count as one old transaction.
UPDATE report_changes SET txid = 0;
CREATE INDEX report_changes_position ON report_changes (txid, seq);
