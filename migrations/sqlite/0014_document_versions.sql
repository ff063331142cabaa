-- A clerk's corrections make new versions of a document's PDF; the earlier ones stay listed and
-- downloadable. `documents.version` is the current one: every correction names the version it was
-- made on, and one made on a version that is no longer current is refused. A version's PDF is set
-- when its render attaches it (NULL while it is being made, or when a later correction came first).
-- `pages.clerk_turn` is a clerk's quarter turns clockwise, on top of the automatic ones.
ALTER TABLE documents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE pages ADD COLUMN clerk_turn INTEGER NOT NULL DEFAULT 0;
CREATE TABLE document_versions (
    document_id TEXT NOT NULL REFERENCES documents(id),
    version     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    operation   TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    pdf_sha256  TEXT REFERENCES files(sha256),
    bytes       INTEGER,
    PRIMARY KEY (document_id, version)
);
INSERT INTO document_versions (document_id, version, at, actor, operation, pdf_sha256, bytes)
    SELECT d.id, 1, COALESCE(d.attached_at, d.created_at), 'sohoa', 'scan', d.pdf_sha256,
           (SELECT f.bytes FROM files f WHERE f.sha256 = d.pdf_sha256)
    FROM documents d WHERE d.pdf_sha256 IS NOT NULL;
