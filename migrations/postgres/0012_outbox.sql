-- What the one-stop system must be told: one entry per attach, detach and correction, written in the
-- transaction of the change itself, delivered per case in order by the service's sender. `idem_key` is the
-- idempotency key the receiver sees (case, ordinal, PDF hash, version, and whether it is a removal),
-- so an entry sent again after a crash is recognised there. `state` is `pending` (due at `next_ms`,
-- taken by a sender until `claimed_ms`), `delivered` (with the receipt) or `rejected` (the remote said
-- no, or the entry cannot be built: it waits for a clerk's retry, and so does the rest of its case).
CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    at             TEXT NOT NULL,
    case_code      TEXT NOT NULL,
    document_id    TEXT NOT NULL REFERENCES documents(id),
    ordinal        BIGINT NOT NULL,
    operation      TEXT NOT NULL,
    role           TEXT NOT NULL,
    doc_type       TEXT,
    pdf_sha256     TEXT,
    version        BIGINT NOT NULL,
    idem_key       TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    attempts       BIGINT NOT NULL DEFAULT 0,
    next_ms        BIGINT NOT NULL DEFAULT 0,
    claimed_ms     BIGINT NOT NULL DEFAULT 0,
    claimed_by     TEXT,
    error          TEXT,
    remote_status  BIGINT,
    remote_id      TEXT,
    remote_message TEXT,
    delivered_at   TEXT
);
CREATE INDEX outbox_state ON outbox(state, id);
CREATE INDEX outbox_case ON outbox(case_code, id);
-- Every document attached before the outbox existed is owed to the one-stop system too.
INSERT INTO outbox (at, case_code, document_id, ordinal, operation, role, doc_type, pdf_sha256, version, idem_key)
    SELECT COALESCE(attached_at, created_at), case_code, id, ordinal, 'attach', role, doc_type, pdf_sha256, version,
           case_code || '/' || ordinal || '/' || pdf_sha256 || '/v' || version
    FROM documents WHERE state = 'attached' AND pdf_sha256 IS NOT NULL ORDER BY attached_at, ordinal;
-- Secrets the service keeps for itself (the key that signs download links), shared by every process.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
