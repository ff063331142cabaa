-- The hot-folder service: documents close by idle time or by a marker file, not only at the end of a run.

ALTER TABLE documents ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;

-- "Close the open documents of this group once every input captured up to seq is filed."
CREATE TABLE close_requests (
    group_key   TEXT NOT NULL,
    up_to_seq   INTEGER NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (group_key, up_to_seq)
);
