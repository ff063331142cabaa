-- One PDF per case with a bookmark per document, rebuilt as documents are attached.
ALTER TABLE cases ADD COLUMN bundle_sha256 TEXT REFERENCES files(sha256);
ALTER TABLE cases ADD COLUMN bundle_documents INTEGER NOT NULL DEFAULT 0;
