-- Case records: the procedure catalogue, the case fields the one-stop system knows, and fixity runs.

-- What a procedure requires: the document types of a complete dossier, and whether it issues a
-- written result (which makes the electronic-result rate measurable).
CREATE TABLE procedures (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    unit            TEXT NOT NULL DEFAULT '',
    required_inputs TEXT NOT NULL DEFAULT '[]',
    issues_result   INTEGER NOT NULL DEFAULT 1,
    updated_at      TEXT NOT NULL
);

-- Dates are local dates (YYYY-MM-DD) in Asia/Ho_Chi_Minh. `origin` tells whether the case came from the
-- one-stop system's export or only from scans routed to its code.
ALTER TABLE cases ADD COLUMN procedure_code TEXT;
ALTER TABLE cases ADD COLUMN unit TEXT;
ALTER TABLE cases ADD COLUMN received_date TEXT;
ALTER TABLE cases ADD COLUMN due_date TEXT;
ALTER TABLE cases ADD COLUMN status TEXT NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processing', 'resolved', 'returned'));
ALTER TABLE cases ADD COLUMN resolved_date TEXT;
ALTER TABLE cases ADD COLUMN applicant_name TEXT;
ALTER TABLE cases ADD COLUMN applicant_id TEXT;
ALTER TABLE cases ADD COLUMN applicant_contact TEXT;
ALTER TABLE cases ADD COLUMN origin TEXT NOT NULL DEFAULT 'scan';
ALTER TABLE cases ADD COLUMN updated_at TEXT;
CREATE INDEX cases_received ON cases(received_date);
CREATE INDEX cases_resolved ON cases(resolved_date);

-- A document a clerk detaches (filed to the wrong case, say) keeps its row, ordinal and PDF, and its
-- pages become unfiled again. SQLite cannot alter a CHECK, so `documents` is rebuilt, and `pages` with
-- it (the only table that refers to it): new tables filled first, old ones dropped, new ones renamed.
CREATE TABLE documents_new (
    id              TEXT PRIMARY KEY,
    case_code       TEXT NOT NULL REFERENCES cases(code),
    ordinal         INTEGER NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('input', 'result')),
    doc_type        TEXT,
    group_key       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'closed', 'attached', 'detached')),
    pdf_sha256      TEXT REFERENCES files(sha256),
    page_count      INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    attached_at     TEXT,
    updated_ms      INTEGER NOT NULL DEFAULT 0,
    detached_at     TEXT,
    detach_reason   TEXT,
    UNIQUE (case_code, ordinal)
);
INSERT INTO documents_new (id, case_code, ordinal, role, doc_type, group_key, state, pdf_sha256, page_count,
                           created_at, attached_at, updated_ms)
    SELECT id, case_code, ordinal, role, doc_type, group_key, state, pdf_sha256, page_count, created_at,
           attached_at, updated_ms FROM documents;
CREATE TABLE pages_new (
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
    document_id     TEXT REFERENCES documents_new(id),
    page_no         INTEGER,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'unfiled', 'filed', 'attached')),
    UNIQUE (intake_id, page_index)
);
INSERT INTO pages_new SELECT id, intake_id, page_index, width, height, dpi_x, dpi_y, dpi_source, colour,
    source_encoding, output_encoding, case_code, role, doc_type, group_key, flags, document_id, page_no, state
    FROM pages;
DROP TABLE pages;
DROP TABLE documents;
ALTER TABLE documents_new RENAME TO documents;
ALTER TABLE pages_new RENAME TO pages;
CREATE INDEX pages_document ON pages(document_id, page_no);
CREATE INDEX documents_case ON documents(case_code, state);

-- Fixity runs, so a long run can be resumed where it stopped.
CREATE TABLE verify_runs (
    id          TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    since       TEXT,
    until       TEXT,
    last_sha256 TEXT NOT NULL DEFAULT '',
    checked     INTEGER NOT NULL DEFAULT 0,
    failures    INTEGER NOT NULL DEFAULT 0,
    finished_at TEXT
);
CREATE INDEX intakes_route ON intakes(route_key);
CREATE INDEX pages_case ON pages(case_code);
CREATE INDEX events_document ON events(document_id);

-- Job leases: which worker (host and data folder) holds a running job, and when it last said so.
-- Workers sharing a PostgreSQL database re-queue only their own abandoned jobs or expired leases.
ALTER TABLE jobs ADD COLUMN worker TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_ms INTEGER NOT NULL DEFAULT 0;

-- API tokens, stored as their SHA-256 only; a role and optionally one unit they are limited to.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('station', 'clerk', 'supervisor', 'admin')),
    unit        TEXT,
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);
