DROP TABLE alert_cursors;
DROP TABLE alert_deliveries;
DROP TABLE saved_searches;
