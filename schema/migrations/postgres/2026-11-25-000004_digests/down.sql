DROP INDEX report_changes_kind_time;
DROP TABLE digests;
