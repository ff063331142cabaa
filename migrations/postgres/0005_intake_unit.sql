-- The unit a scan was captured for (its station's, or the uploading token's): an unfiled scan is
-- listed and filed only by that unit's clerks, or by clerks limited to no unit.
ALTER TABLE intakes ADD COLUMN unit TEXT;
