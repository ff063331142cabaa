-- The capture-first core: every input is an intake row the moment its bytes are durable; everything
-- after that is a job over stored bytes. Identifiers are our own (UUIDv7 text), never rowids.

CREATE TABLE profiles (
    sha256      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    text        TEXT NOT NULL,
    first_seen  TEXT NOT NULL
);

-- Every stored blob, original or produced, with the hash that names it.
CREATE TABLE files (
    sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    bytes       INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('original', 'pdf')),
    stored_at   TEXT NOT NULL
);

CREATE TABLE intakes (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE,
    sha256          TEXT NOT NULL REFERENCES files(sha256),
    bytes           INTEGER NOT NULL,
    source_path     TEXT NOT NULL,
    source_name     TEXT NOT NULL,
    source_mtime    TEXT NOT NULL,
    station         TEXT NOT NULL,
    operator        TEXT,
    profile_name    TEXT NOT NULL,
    profile_sha256  TEXT NOT NULL REFERENCES profiles(sha256),
    captured_at     TEXT NOT NULL,
    route_key       TEXT NOT NULL,
    hints           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('captured', 'split', 'quarantined')),
    assembled       INTEGER NOT NULL DEFAULT 0,
    format          TEXT,
    page_count      INTEGER,
    reused          INTEGER NOT NULL DEFAULT 0,
    reason_code     TEXT,
    reason          TEXT,
    UNIQUE (sha256, route_key)
);
CREATE INDEX intakes_unassembled ON intakes(assembled, seq);

CREATE TABLE cases (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    case_code       TEXT NOT NULL REFERENCES cases(code),
    ordinal         INTEGER NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('input', 'result')),
    doc_type        TEXT,
    group_key       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'closed', 'attached')),
    pdf_sha256      TEXT REFERENCES files(sha256),
    page_count      INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    attached_at     TEXT,
    UNIQUE (case_code, ordinal)
);

CREATE TABLE pages (
    id              TEXT PRIMARY KEY,
    intake_id       TEXT NOT NULL REFERENCES intakes(id),
    page_index      INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    dpi_x           REAL NOT NULL,
    dpi_y           REAL NOT NULL,
    dpi_source      TEXT NOT NULL,
    colour          TEXT NOT NULL,
    source_encoding TEXT NOT NULL,
    output_encoding TEXT,
    case_code       TEXT,
    role            TEXT NOT NULL,
    doc_type        TEXT,
    group_key       TEXT NOT NULL,
    flags           TEXT NOT NULL DEFAULT '[]',
    document_id     TEXT REFERENCES documents(id),
    page_no         INTEGER,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'unfiled', 'filed', 'attached')),
    UNIQUE (intake_id, page_index)
);
CREATE INDEX pages_document ON pages(document_id, page_no);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('split', 'render')),
    subject         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before_ms   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    profile_sha256  TEXT NOT NULL REFERENCES profiles(sha256),
    created_at      TEXT NOT NULL,
    UNIQUE (kind, subject)
);
CREATE INDEX jobs_pending ON jobs(state, seq);

-- Append-only audit log.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    case_code   TEXT,
    intake_id   TEXT,
    document_id TEXT,
    sha256      TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_case ON events(case_code);
CREATE INDEX events_intake ON events(intake_id);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
