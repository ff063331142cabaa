-- The PostgreSQL schema: the same tables, columns and rules as the SQLite migrations together, in
-- PostgreSQL's types (BIGINT for counters, DOUBLE PRECISION for resolutions). Identifiers are UUIDv7
-- text and times ISO 8601 text, exactly as in SQLite, so both backends answer alike.

CREATE TABLE profiles (
    sha256      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    text        TEXT NOT NULL,
    first_seen  TEXT NOT NULL
);

CREATE TABLE files (
    sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    bytes       BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('original', 'pdf')),
    stored_at   TEXT NOT NULL
);

CREATE TABLE intakes (
    id              TEXT PRIMARY KEY,
    seq             BIGINT NOT NULL UNIQUE,
    sha256          TEXT NOT NULL REFERENCES files(sha256),
    bytes           BIGINT NOT NULL,
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
    assembled       BIGINT NOT NULL DEFAULT 0,
    format          TEXT,
    page_count      BIGINT,
    reused          BIGINT NOT NULL DEFAULT 0,
    reason_code     TEXT,
    reason          TEXT,
    UNIQUE (sha256, route_key)
);
CREATE INDEX intakes_unassembled ON intakes(assembled, seq);
CREATE INDEX intakes_route ON intakes(route_key);

CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    code              TEXT NOT NULL UNIQUE,
    created_at        TEXT NOT NULL,
    bundle_sha256     TEXT REFERENCES files(sha256),
    bundle_documents  BIGINT NOT NULL DEFAULT 0,
    procedure_code    TEXT,
    unit              TEXT,
    received_date     TEXT,
    due_date          TEXT,
    status            TEXT NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'processing', 'resolved', 'returned')),
    resolved_date     TEXT,
    applicant_name    TEXT,
    applicant_id      TEXT,
    applicant_contact TEXT,
    origin            TEXT NOT NULL DEFAULT 'scan',
    updated_at        TEXT
);
CREATE INDEX cases_received ON cases(received_date);
CREATE INDEX cases_resolved ON cases(resolved_date);

CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    case_code       TEXT NOT NULL REFERENCES cases(code),
    ordinal         BIGINT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('input', 'result')),
    doc_type        TEXT,
    group_key       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'closed', 'attached', 'detached')),
    pdf_sha256      TEXT REFERENCES files(sha256),
    page_count      BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    attached_at     TEXT,
    updated_ms      BIGINT NOT NULL DEFAULT 0,
    detached_at     TEXT,
    detach_reason   TEXT,
    UNIQUE (case_code, ordinal)
);
CREATE INDEX documents_case ON documents(case_code, state);

CREATE TABLE pages (
    id              TEXT PRIMARY KEY,
    intake_id       TEXT NOT NULL REFERENCES intakes(id),
    page_index      BIGINT NOT NULL,
    width           BIGINT NOT NULL,
    height          BIGINT NOT NULL,
    dpi_x           DOUBLE PRECISION NOT NULL,
    dpi_y           DOUBLE PRECISION NOT NULL,
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
    page_no         BIGINT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'unfiled', 'filed', 'attached')),
    UNIQUE (intake_id, page_index)
);
CREATE INDEX pages_document ON pages(document_id, page_no);
CREATE INDEX pages_case ON pages(case_code);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('split', 'render')),
    subject         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    not_before_ms   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    profile_sha256  TEXT NOT NULL REFERENCES profiles(sha256),
    created_at      TEXT NOT NULL,
    worker          TEXT,
    heartbeat_ms    BIGINT NOT NULL DEFAULT 0,
    UNIQUE (kind, subject)
);
CREATE INDEX jobs_pending ON jobs(state, seq);

CREATE TABLE close_requests (
    group_key    TEXT NOT NULL,
    up_to_seq    BIGINT NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (group_key, up_to_seq)
);

CREATE TABLE procedures (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    unit            TEXT NOT NULL DEFAULT '',
    required_inputs TEXT NOT NULL DEFAULT '[]',
    issues_result   BIGINT NOT NULL DEFAULT 1,
    updated_at      TEXT NOT NULL
);

CREATE TABLE verify_runs (
    id          TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    since       TEXT,
    until       TEXT,
    last_sha256 TEXT NOT NULL DEFAULT '',
    checked     BIGINT NOT NULL DEFAULT 0,
    failures    BIGINT NOT NULL DEFAULT 0,
    finished_at TEXT
);

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

-- Append-only audit log: a trigger refuses every UPDATE and DELETE, whoever sends it.
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE INDEX events_document ON events(document_id);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
