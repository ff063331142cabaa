-- The audit log as a hash chain: each event carries the SHA-256 of the event before it and its own
-- (over that and its fields), so an edit or deletion by someone with database rights (who can drop the
-- append-only trigger) shows at the first broken link. Events written before this release have
-- neither; the chain starts at the first event written after it.
ALTER TABLE events ADD COLUMN prev_hash TEXT;
ALTER TABLE events ADD COLUMN hash TEXT;
-- Each full verify run keeps the head it saw here as well as in its own event: cutting the log short
-- then means removing both, and the head is printed for keeping elsewhere too.
ALTER TABLE verify_runs ADD COLUMN chain_head_id BIGINT;
ALTER TABLE verify_runs ADD COLUMN chain_head TEXT;
