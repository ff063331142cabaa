-- Separator sheets. A page of a stacked profile carries what its split found: `{"every": N, "sheet":
-- null | {"kind": "code", "case": …, "role": …, "type": …} | {"kind": "split"} | {"kind":
-- "unreadable", "why": …}}`. Assembly (in capture order) keeps, per stack (a folder of one station),
-- the segment it is in: the case a sheet named, the pages so far, the page that began it, and whether
-- a sheet did (then its case applies to every page of the segment).
ALTER TABLE pages ADD COLUMN stack TEXT;
CREATE TABLE stacks (
    key         TEXT PRIMARY KEY,
    case_code   TEXT,
    role        TEXT,
    doc_type    TEXT,
    segment     TEXT NOT NULL,
    pages       BIGINT NOT NULL DEFAULT 0,
    sheet       BIGINT NOT NULL DEFAULT 0
);
