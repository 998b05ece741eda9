-- Each relay's go-outbox version, which its heartbeat writes: the operator console shows
-- it, to tell relays left behind in a rolling upgrade.
ALTER TABLE {{relays}} ADD COLUMN IF NOT EXISTS version text NOT NULL DEFAULT '';
