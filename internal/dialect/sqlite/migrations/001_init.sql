-- The SQLite outbox. seq is the commit order: SQLite has one writer at a time, so rows
-- are numbered in the order their transactions commit. bucket is one of 64, computed by
-- the writer from the key (or, without a key, the id); rows written by hand without one
-- land in bucket 0. Times are Unix microseconds.
CREATE TABLE IF NOT EXISTS {{table}} (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	id             TEXT    NOT NULL,
	topic          TEXT    NOT NULL,
	key            BLOB,
	bucket         INTEGER NOT NULL DEFAULT 0 CHECK (bucket BETWEEN 0 AND 63),
	event_type     TEXT    NOT NULL DEFAULT '',
	aggregate_type TEXT    NOT NULL DEFAULT '',
	aggregate_id   TEXT    NOT NULL DEFAULT '',
	payload        BLOB,
	headers        TEXT    NOT NULL DEFAULT '{}',
	occurred_at    INTEGER NOT NULL,
	created_at     INTEGER NOT NULL DEFAULT ({{now}}),
	status         TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'dead')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	available_at   INTEGER NOT NULL DEFAULT 0,
	last_error     TEXT,
	published_at   INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS {{name_id_key}} ON {{table}} (id);
-- Claim: pending rows of a bucket in seq order.
CREATE INDEX IF NOT EXISTS {{name_claim_idx}} ON {{table}} (bucket, seq) WHERE status = 'pending';
-- Blocked keys: rows waiting for a retry (few), and dead rows when keys are held.
CREATE INDEX IF NOT EXISTS {{name_blocked_idx}} ON {{table}} (bucket, key) WHERE status = 'pending' AND attempts > 0;
CREATE INDEX IF NOT EXISTS {{name_dead_idx}} ON {{table}} (bucket, key) WHERE status = 'dead';
-- Purge of retained published rows.
CREATE INDEX IF NOT EXISTS {{name_published_idx}} ON {{table}} (published_at) WHERE status = 'published';

-- One row per bucket; a relay owns a bucket while expires_at is in the future.
CREATE TABLE IF NOT EXISTS {{leases}} (
	bucket     INTEGER PRIMARY KEY,
	owner      TEXT    NOT NULL DEFAULT '',
	expires_at INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO {{leases}} (bucket)
	WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 63) SELECT n FROM b;

-- Live relays, so each can take its fair share of buckets.
CREATE TABLE IF NOT EXISTS {{relays}} (
	id      TEXT    PRIMARY KEY,
	seen_at INTEGER NOT NULL
);

-- A batch holds its buckets here, with a token of its own, until it settles (or until
-- its hold runs out, when its relay froze): a batch must not keep SQLite's one write
-- lock while Kafka acknowledges, so its claim and its settlement are two short
-- transactions, and the settlement checks that the hold is still its own.
CREATE TABLE IF NOT EXISTS {{locks}} (
	bucket INTEGER PRIMARY KEY,
	holder TEXT    NOT NULL DEFAULT '',
	until  INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO {{locks}} (bucket)
	WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 63) SELECT n FROM b;
