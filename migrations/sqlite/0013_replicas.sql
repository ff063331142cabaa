-- A second copy kept in step by the service: files are taken in the order they were stored (`stored_ms`,
-- this process's clock when the row was written; 0 for files stored before this column), and each
-- replica's cursor says how far its copy has come, so a restart resumes instead of starting again.
ALTER TABLE files ADD COLUMN stored_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX files_stored ON files(stored_ms, sha256);
CREATE TABLE replicas (
    target      TEXT PRIMARY KEY,
    stored_ms   INTEGER NOT NULL DEFAULT 0,
    sha256      TEXT NOT NULL DEFAULT '',
    updated_ms  INTEGER NOT NULL DEFAULT 0
);
