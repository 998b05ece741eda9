-- The statements of WAL mode: events travel as logical decoding messages
-- (pg_logical_emit_message) and are read from a replication slot; the outbox table
-- holds only dead letters. $n are as in queries.sql.

-- name: emit
-- One statement for all of a Write's events, in order: the aggregate reads unnest's rows
-- one after the other and emits each into the caller's transaction, so they reach the
-- slot at its commit and never if it rolls back.
SELECT count(pg_logical_emit_message(true, $1, c)) FROM unnest($2::bytea[]) AS c;

-- name: emit_one
-- The same for a single event, without the array: the common case of one event per
-- business transaction.
SELECT pg_logical_emit_message(true, $1, $2::bytea)::text;

-- name: heartbeat
-- A message outside any transaction, which moves a quiet database's slot forward.
SELECT pg_logical_emit_message(false, $1, '')::text;

-- name: dead_letter
-- An event the relay gave up on, kept where table mode keeps its dead letters. After a
-- crash the relay reads the event again; its id is already here.
INSERT INTO {{table}} (id, topic, key, event_type, aggregate_type, aggregate_id, payload, headers,
	occurred_at, created_at, status, attempts, last_error, dead_at)
VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, 'dead', $11, $12, now())
ON CONFLICT (id) DO NOTHING;

-- name: dead_keys
-- Keys held back while one of their events is dead (HoldKeyOnDead), each with the id of
-- its earliest dead event: the one whose retry releases the key.
SELECT DISTINCT ON (key) key, id FROM {{table}} WHERE status = 'dead' AND key IS NOT NULL ORDER BY key, seq;

-- name: take_dead
-- An operator's retry in WAL mode: the dead events (all of them with $1, else those whose
-- seq is in $2) leave the table and are emitted again in the same transaction, in the
-- order they died.
DELETE FROM {{table}} WHERE seq IN (
	SELECT seq FROM {{table}} WHERE status = 'dead' AND ($1::bool OR seq = ANY($2::bigint[])) FOR UPDATE)
RETURNING seq, id, topic, key, event_type, aggregate_type, aggregate_id, payload, headers::text, occurred_at;

-- name: slot
-- The slot as the server sees it. Lag is the WAL it holds past what the relay confirmed
-- (on a standby, past what it replayed). Failover, synced and invalidation_reason are
-- PostgreSQL 17's columns, read through to_jsonb so that older servers, which lack
-- them, answer false and ''. A synced copy still temporary is not ready: the standby
-- keeps it so until the primary's slot has moved past where the copy could start
-- (its log says "remote slot precedes local slot"), and a promotion drops it.
SELECT coalesce(wal_status, ''), coalesce(active, false), coalesce(active_pid, 0),
	coalesce(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
		confirmed_flush_lsn), 0)::bigint,
	coalesce(safe_wal_size, -1),
	EXISTS (SELECT 1 FROM {{wal_slots}} WHERE slot = $1),
	coalesce((to_jsonb(s) ->> 'failover')::bool, false),
	coalesce((to_jsonb(s) ->> 'synced')::bool, false) AND NOT coalesce(temporary, false),
	coalesce(to_jsonb(s) ->> 'invalidation_reason', ''),
	current_setting('server_version_num')::int, pg_is_in_recovery(),
	coalesce(current_setting('synchronized_standby_slots', true), '')
FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON slot_name = $1 AND database = current_database();

-- name: create_slot
SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput');

-- name: create_failover_slot
-- PostgreSQL 17: a failover slot (the fifth argument), which standbys with
-- sync_replication_slots = on keep a copy of, so that a relay resumes from it on a
-- promoted standby.
SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput', false, false, true);

-- name: record_slot
INSERT INTO {{wal_slots}} (slot, created_lsn) VALUES ($1, $2::pg_lsn)
ON CONFLICT (slot) DO UPDATE SET created_at = now(), created_lsn = excluded.created_lsn, confirmed_lsn = NULL;

-- name: save_position
-- The reader's confirmed position, which only moves forward.
UPDATE {{wal_slots}} SET confirmed_lsn = $2::pg_lsn
WHERE slot = $1 AND (confirmed_lsn IS NULL OR confirmed_lsn < $2::pg_lsn);

-- name: load_position
SELECT coalesce(confirmed_lsn::text, '') FROM {{wal_slots}} WHERE slot = $1;

-- name: drop_slot
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name = $1 AND database = current_database();

-- name: publication_exists
SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1);

-- name: wal_level
SELECT current_setting('wal_level');

-- name: reader_lag
-- How far behind the reading relay is, in time: PostgreSQL measures it from the
-- positions the relay confirms (NULL once it has caught up and nothing new comes).
SELECT coalesce(extract(epoch FROM r.flush_lag), 0)::float8
FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = $1 AND s.database = current_database();

-- name: peek
-- The age in seconds of the first transaction a reader would get, read without consuming
-- anything (only while no relay reads the slot). pgoutput's Begin message is 'B' (66),
-- the final LSN (8 bytes), then the commit time: microseconds since 2000-01-01 UTC.
SELECT extract(epoch FROM now() - (timestamptz '2000-01-01 00:00:00+00'
	+ ('x' || encode(substring(data FROM 10 FOR 8), 'hex'))::bit(64)::bigint * interval '1 microsecond'))::float8
FROM pg_logical_slot_peek_binary_changes($1, NULL, 16,
	'proto_version', '1', 'publication_names', $2, 'messages', 'true')
WHERE get_byte(data, 0) = 66
LIMIT 1;
