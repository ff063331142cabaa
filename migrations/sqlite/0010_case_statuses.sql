-- The statuses one-stop systems report beyond the first four: additional documents requested,
-- rejected, withdrawn by the applicant, cancelled. SQLite cannot alter a CHECK, so the column is
-- replaced: a new one with the wider CHECK, filled, the old one dropped (its own CHECK goes with it),
-- the new one renamed.
ALTER TABLE cases ADD COLUMN status_new TEXT NOT NULL DEFAULT 'received'
    CHECK (status_new IN ('received', 'processing', 'supplement', 'resolved', 'returned', 'rejected',
                          'withdrawn', 'cancelled'));
UPDATE cases SET status_new = status;
ALTER TABLE cases DROP COLUMN status;
ALTER TABLE cases RENAME COLUMN status_new TO status;
