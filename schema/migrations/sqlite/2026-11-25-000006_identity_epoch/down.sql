DROP TABLE identity_epoch;
