-- What each reader class sees of a cluster (size, first and latest
-- publication, publications per day, the member set's hash), kept with the
-- cluster so that listing clusters reads one row per cluster.
ALTER TABLE clusters ADD COLUMN class_views TEXT NOT NULL DEFAULT '[]';
-- Every change below this position of the change log is reflected in the
-- clusters' stored views; members with later changes are read live.
CREATE TABLE cluster_stamp (
    id INTEGER PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO cluster_stamp (id, position) VALUES (1, 0);
