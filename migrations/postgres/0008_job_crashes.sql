-- How many times a job was running when its process died (or when it panicked). A job that stopped
-- the service twice is a poison job: its input is quarantined instead of being tried a third time.
ALTER TABLE jobs ADD COLUMN crashes BIGINT NOT NULL DEFAULT 0;
