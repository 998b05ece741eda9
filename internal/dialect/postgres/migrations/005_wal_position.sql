-- WAL mode: the position up to which the slot's reader has published, saved every few
-- hundred milliseconds. PostgreSQL before 17 writes a slot's confirmed position to disk
-- only now and then, so after a restart the slot resumes from an older one; the relay
-- starts streaming from this one instead, and what it sends again is at most that
-- interval. NULL until a relay reads the slot, and again when the slot is recreated.
ALTER TABLE {{wal_slots}} ADD COLUMN IF NOT EXISTS confirmed_lsn pg_lsn;
