-- How each case reached the center (`online`, `counter`, `post`; NULL when no export said): the index
-- scores online dossiers too.
ALTER TABLE cases ADD COLUMN channel TEXT;
-- Units by code, with the names a supervisor reads in the report.
CREATE TABLE units (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- An input declared as taken from earlier digitized data (the source case, or `case.NNN`), by a
-- manifest, a clerk or the API: counted by the reuse rate beside byte-identical captures.
ALTER TABLE documents ADD COLUMN reused_from TEXT;
-- The rows each export file's last import refused, so the report can say which cases its figures may
-- lack; an import of the same file name replaces its own.
CREATE TABLE import_refusals (
    at     TEXT NOT NULL,
    file   TEXT NOT NULL,
    line   BIGINT NOT NULL,
    code   TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX import_refusals_file ON import_refusals(file);
