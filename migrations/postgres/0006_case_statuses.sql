-- The statuses one-stop systems report beyond the first four: additional documents requested,
-- rejected, withdrawn by the applicant, cancelled.
ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_status_check;
ALTER TABLE cases ADD CONSTRAINT cases_status_check
    CHECK (status IN ('received', 'processing', 'supplement', 'resolved', 'returned', 'rejected',
                      'withdrawn', 'cancelled'));
