DROP TABLE report_changes;
DROP TABLE reports;
