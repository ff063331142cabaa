-- Text recognition after attach (`[ocr]`): a job kind of its own, and each page's recognised text.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('split', 'render', 'ocr'));

-- One row per page of a document version that carries a text layer. `text` is NFC as recognised;
-- `folded` is the same without case or tone marks (`util::text::fold`), what search matches, so
-- `quyen su dung dat` finds `quyền sử dụng đất`; `search` is its full-text index (the `simple`
-- configuration: no stemming, which knows no Vietnamese). `words`: JSON `[[word, left, top, right,
-- bottom], …]` with the box as shares of the shown page, to mark a hit on its thumbnail.
-- `confidence`: the mean of the words' confidences (0–100), NULL when no word was found.
CREATE TABLE page_text (
    document_id TEXT NOT NULL REFERENCES documents(id),
    version     BIGINT NOT NULL,
    page_no     BIGINT NOT NULL,
    page_id     TEXT,
    case_code   TEXT NOT NULL,
    text        TEXT NOT NULL,
    folded      TEXT NOT NULL,
    confidence  DOUBLE PRECISION,
    words       TEXT NOT NULL DEFAULT '[]',
    search      tsvector GENERATED ALWAYS AS (to_tsvector('simple', folded)) STORED,
    PRIMARY KEY (document_id, version, page_no)
);
CREATE INDEX page_text_case ON page_text(case_code);
CREATE INDEX page_text_search ON page_text USING GIN (search);
