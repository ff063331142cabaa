-- A clerk may discard a quarantined input (a test scan, a duplicate sent by mistake): it stays recorded
-- and its bytes stay stored, but it leaves the quarantine list. Who, when and why are kept here and in
-- the audit log.
ALTER TABLE intakes ADD COLUMN discarded_at TEXT;
ALTER TABLE intakes ADD COLUMN discarded_by TEXT;
ALTER TABLE intakes ADD COLUMN discard_reason TEXT;
