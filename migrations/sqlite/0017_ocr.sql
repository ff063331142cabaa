-- Text recognition after attach (`[ocr]`): a job kind of its own, and each page's recognised text.
-- SQLite cannot change a CHECK, so the jobs table is made again with `ocr` among its kinds.
CREATE TABLE jobs_new (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('split', 'render', 'ocr')),
    subject         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before_ms   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    profile_sha256  TEXT NOT NULL REFERENCES profiles(sha256),
    created_at      TEXT NOT NULL,
    worker          TEXT,
    heartbeat_ms    INTEGER NOT NULL DEFAULT 0,
    crashes         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, subject)
);
INSERT INTO jobs_new (id, seq, kind, subject, state, attempts, not_before_ms, last_error, profile_sha256,
                      created_at, worker, heartbeat_ms, crashes)
    SELECT id, seq, kind, subject, state, attempts, not_before_ms, last_error, profile_sha256,
           created_at, worker, heartbeat_ms, crashes FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_pending ON jobs(state, seq);

-- One row per page of a document version that carries a text layer. `text` is NFC as recognised;
-- `folded` is the same without case or tone marks (`util::text::fold`), what search matches, so
-- `quyen su dung dat` finds `quyền sử dụng đất`. `words`: JSON `[[word, left, top, right, bottom], …]`
-- with the box as shares of the shown page, to mark a hit on its thumbnail. `confidence`: the mean
-- of the words' confidences (0–100), NULL when no word was found.
CREATE TABLE page_text (
    document_id TEXT NOT NULL REFERENCES documents(id),
    version     INTEGER NOT NULL,
    page_no     INTEGER NOT NULL,
    page_id     TEXT,
    case_code   TEXT NOT NULL,
    text        TEXT NOT NULL,
    folded      TEXT NOT NULL,
    confidence  REAL,
    words       TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (document_id, version, page_no)
);
CREATE INDEX page_text_case ON page_text(case_code);
CREATE VIRTUAL TABLE page_text_fts USING fts5(folded, content='page_text', content_rowid='rowid');
CREATE TRIGGER page_text_indexed AFTER INSERT ON page_text BEGIN
    INSERT INTO page_text_fts (rowid, folded) VALUES (new.rowid, new.folded);
END;
CREATE TRIGGER page_text_unindexed AFTER DELETE ON page_text BEGIN
    INSERT INTO page_text_fts (page_text_fts, rowid, folded) VALUES ('delete', old.rowid, old.folded);
END;
