DROP INDEX report_changes_position;
ALTER TABLE report_changes DROP COLUMN txid;
