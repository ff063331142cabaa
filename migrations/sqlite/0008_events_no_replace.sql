-- INSERT OR REPLACE deletes the row it conflicts with without firing DELETE triggers (SQLite fires them
-- only with recursive_triggers on): an audit event could be rewritten in place. Refuse any insert
-- whose id is already taken, before the conflict is resolved.
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
