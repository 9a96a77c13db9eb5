DROP TABLE recluster_runs;
DROP TABLE lesson_endorsements;
DROP TABLE lessons;
DROP TABLE cluster_members;
DROP TABLE clusters;
