-- When each dead event died (Unix microseconds), for the operator's listing and for
-- purging what has been dead for a while. NULL for rows that died before this column
-- existed, and for rows that are not dead.
ALTER TABLE {{table}} ADD COLUMN dead_at INTEGER;
