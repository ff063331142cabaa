-- Workers on other machines wake when a job becomes runnable, instead of waiting for their next poll:
-- every row that turns pending sends one notification at commit (PostgreSQL folds repeats within a
-- transaction into one). Polling stays as the fallback when the listening connection is down.
CREATE FUNCTION sohoa_jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sohoa_jobs', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_pending_notify
    AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'pending')
    EXECUTE FUNCTION sohoa_jobs_notify();
