-- WAL mode: the replication slots this outbox has created. A slot that is recorded here
-- but gone from pg_replication_slots was dropped; the relay then refuses to create a
-- fresh one, which would start after the events the old one still held.
CREATE TABLE IF NOT EXISTS {{wal_slots}} (
	slot        text        PRIMARY KEY,
	created_at  timestamptz NOT NULL DEFAULT now(),
	created_lsn pg_lsn      NOT NULL
);
