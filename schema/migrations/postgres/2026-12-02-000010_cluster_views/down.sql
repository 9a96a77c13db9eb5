DROP TABLE cluster_stamp;
ALTER TABLE clusters DROP COLUMN class_views;
