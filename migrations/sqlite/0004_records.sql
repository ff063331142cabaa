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
