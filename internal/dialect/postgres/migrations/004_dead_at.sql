-- When each dead event died, for the operator's listing and for purging what has been
-- dead for a while. NULL for rows that died before this column existed, and for rows
-- that are not dead.
ALTER TABLE {{table}} ADD COLUMN IF NOT EXISTS dead_at timestamptz;
