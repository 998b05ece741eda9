-- The dead letters of one key in order, for the operator console's filter by key: only
-- dead rows are in it, so writers and relays never touch it.
CREATE INDEX IF NOT EXISTS {{name_dead_key_idx}} ON {{table}} (key, seq) WHERE status = 'dead';
