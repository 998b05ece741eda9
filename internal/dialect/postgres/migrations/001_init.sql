-- The outbox table. seq is the commit order the relay publishes in; bucket hashes the key
-- (or, without a key, the id) into one of 64 buckets that relays lease. Claiming writes
-- nothing to a row: a batch holds its buckets with transaction-scoped advisory locks.
CREATE TABLE IF NOT EXISTS {{table}} (
	seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id             uuid        NOT NULL,
	topic          text        NOT NULL,
	key            bytea,
	bucket         int         NOT NULL GENERATED ALWAYS AS
	                   ((hashtext(encode(coalesce(key, uuid_send(id)), 'hex')) & 2147483647) % 64) STORED,
	event_type     text        NOT NULL DEFAULT '',
	aggregate_type text        NOT NULL DEFAULT '',
	aggregate_id   text        NOT NULL DEFAULT '',
	payload        bytea,
	headers        jsonb       NOT NULL DEFAULT '{}',
	occurred_at    timestamptz NOT NULL DEFAULT now(),
	created_at     timestamptz NOT NULL DEFAULT now(),
	status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'dead')),
	attempts       int         NOT NULL DEFAULT 0,
	available_at   timestamptz NOT NULL DEFAULT '-infinity',
	last_error     text,
	published_at   timestamptz,
	CONSTRAINT {{name_id_key}} UNIQUE (id)
);

-- Claim: pending rows of the leased buckets in seq order.
CREATE INDEX IF NOT EXISTS {{name_claim_idx}} ON {{table}} (bucket, seq) WHERE status = 'pending';
-- Blocked keys: rows waiting for a retry (few), and dead rows when keys are held.
CREATE INDEX IF NOT EXISTS {{name_blocked_idx}} ON {{table}} (bucket, key) WHERE status = 'pending' AND attempts > 0;
CREATE INDEX IF NOT EXISTS {{name_dead_idx}} ON {{table}} (bucket, key) WHERE status = 'dead';
-- Purge of retained published rows.
CREATE INDEX IF NOT EXISTS {{name_published_idx}} ON {{table}} (published_at) WHERE status = 'published';

-- One row per bucket; a relay owns a bucket while expires_at is in the future.
CREATE TABLE IF NOT EXISTS {{leases}} (
	bucket     int         PRIMARY KEY,
	owner      text        NOT NULL DEFAULT '',
	expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO {{leases}} (bucket) SELECT generate_series(0, 63) ON CONFLICT DO NOTHING;

-- Live relays, so each can take its fair share of buckets.
CREATE TABLE IF NOT EXISTS {{relays}} (
	id      text        PRIMARY KEY,
	seen_at timestamptz NOT NULL
);
