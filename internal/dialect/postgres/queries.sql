-- The statements of the PostgreSQL outbox. {{table}}, {{leases}} and {{relays}} are the
-- quoted, schema-qualified tables of migrations/; the indexes each statement relies on are
-- created there. Durations come in as microseconds ($n::bigint * interval '1 microsecond'),
-- times go out as timestamptz. List arguments ($n::int[], $n::bigint[]) are arrays.

-- name: peek
-- Whether a claim could find anything, by the claim index alone: an idle worker costs one
-- round trip instead of a transaction's four.
SELECT EXISTS (SELECT 1 FROM {{table}}
	WHERE bucket = ANY($1::int[]) AND status = 'pending' AND available_at <= now());

-- name: lock
-- A batch holds the buckets it could lock until it ends; a bucket another batch holds is
-- left out. The idle timeout ($2, ms) lets the server end a batch whose relay froze.
-- The batch's commit records only that published rows are gone (or a retry is due):
-- losing the last few such commits in a crash means sending those events again, which
-- at-least-once allows, so it does not wait for the WAL flush ($3 'off'). Exactly-once
-- relays pass 'on': their Kafka transaction has committed by then, and a lost settlement
-- would send its rows again. Writers' transactions keep their own synchronous_commit.
-- The buckets locked go into the setting outbox.held until the batch ends, where the
-- claim reads them: the claim can go in the same round trip as the lock, yet reads with
-- a snapshot of its own, taken once the buckets' last batches have committed.
-- The batch's statements are planned on their indexes, whatever the statistics say:
-- PostgreSQL plans a cached statement once for all its runs, and a plan made while the
-- outbox was small scans the whole table (or every index entry of the buckets), which
-- costs what its dead rows cost, for as long as the plan is cached.
SELECT set_config('idle_in_transaction_session_timeout', $2, true),
	set_config('synchronous_commit', $3, true),
	set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
	set_config('outbox.held', (SELECT coalesce(array_agg(b), '{}') FROM unnest($1::int[]) b
	 WHERE pg_try_advisory_xact_lock({{lock_class}}, b))::text, true);

-- name: claim
-- The batch of the buckets of $1 that the lock statement held (outbox.held: the planner
-- knows $1, not the setting, so it filters). Keys with an earlier row waiting for its
-- retry (or, with $3, a dead row) are skipped, so they stay in order while the other
-- keys go on. Each bucket is read through the claim index, oldest first, at most $4
-- rows (a few times its share of the batch): the cost is bounded by the batch, not by
-- the backlog, and index scans skip the entries of deleted rows once seen, where a
-- bitmap scan over all the buckets' rows, then a sort, slowed down with every row not
-- yet vacuumed. The batch's size goes into application_name until it ends: the
-- in-flight count of status.
WITH blocked AS (
	SELECT key FROM {{table}}
	WHERE bucket = ANY($1::int[]) AND key IS NOT NULL
	  AND status = 'pending' AND attempts > 0 AND available_at > now()
	UNION ALL
	SELECT key FROM {{table}}
	WHERE $3 AND bucket = ANY($1::int[]) AND key IS NOT NULL AND status = 'dead'
), picked AS (
	SELECT p.seq FROM unnest($1::int[]) b, LATERAL (
		SELECT seq FROM {{table}}
		WHERE bucket = b AND status = 'pending' AND available_at <= now()
		  AND (key IS NULL OR key NOT IN (SELECT key FROM blocked))
		ORDER BY seq
		LIMIT $4
	) p
	WHERE b = ANY(current_setting('outbox.held')::int[])
	ORDER BY p.seq
	LIMIT $2
), claimed AS (
	SELECT seq, id::text, topic, key, key IS NULL, event_type, aggregate_type, aggregate_id, payload,
		payload IS NULL, headers::text, occurred_at, attempts, created_at, bucket
	FROM {{table}} WHERE seq IN (SELECT seq FROM picked)
)
SELECT *, set_config('application_name', '{{batch_tag}}' || (SELECT count(*) FROM claimed), true)
FROM claimed ORDER BY seq;

-- name: mark_deleted
DELETE FROM {{table}} WHERE seq = ANY($1::bigint[]);

-- name: mark_published
UPDATE {{table}} SET status = 'published', published_at = now() WHERE seq = ANY($1::bigint[]);

-- name: mark_carried_deleted
-- Rows a committed Kafka transaction carried, by seq and event id alike: a seq of an
-- outbox made anew names another event.
DELETE FROM {{table}} WHERE seq = ANY($1::bigint[]) AND id::text = ANY($2::text[]);

-- name: mark_carried_published
UPDATE {{table}} SET status = 'published', published_at = now()
WHERE seq = ANY($1::bigint[]) AND id::text = ANY($2::text[]);

-- name: mark_failed
-- Only permanent failures ($6) count towards the dead-letter state; transient ones (broker
-- down) back off for ever, so an outage loses nothing.
UPDATE {{table}} SET
	attempts = attempts + 1,
	last_error = $2,
	status = CASE WHEN $6 AND attempts + 1 >= $3 THEN 'dead' ELSE 'pending' END,
	dead_at = CASE WHEN $6 AND attempts + 1 >= $3 THEN now() END,
	available_at = now() + (least($5::bigint, $4::bigint * power(2, least(attempts, 30)))
		* (0.5 + random() / 2)) * interval '1 microsecond'
WHERE seq = ANY($1::bigint[]) AND status = 'pending';

-- name: count_dead
SELECT count(*) FROM {{table}} WHERE seq = ANY($1::bigint[]) AND status = 'dead';

-- name: purge
DELETE FROM {{table}} WHERE seq IN (
	SELECT seq FROM {{table}}
	WHERE status = 'published' AND published_at < now() - $1::bigint * interval '1 microsecond'
	LIMIT $2);

-- name: heartbeat
-- $2 is the relay's go-outbox version (migration: relay_version).
INSERT INTO {{relays}} (id, seen_at, version) VALUES ($1, now(), $2)
ON CONFLICT (id) DO UPDATE SET seen_at = now(), version = $2;

-- name: forget
DELETE FROM {{relays}} WHERE id = $1 OR seen_at < now() - $2::bigint * interval '1 microsecond';

-- name: alive
SELECT count(*) FROM {{relays}} WHERE seen_at > now() - $1::bigint * interval '1 microsecond';

-- name: relays
-- The relays that send heartbeats, each with its heartbeat's age (seconds, by the
-- database's clock) and its version: the console's relays page.
SELECT id, extract(epoch FROM now() - seen_at)::float8, version FROM {{relays}} ORDER BY id;

-- name: leases
-- Each bucket's owner, and whether its lease is live.
SELECT bucket, owner, expires_at > now() FROM {{leases}} ORDER BY bucket;

-- name: renew
UPDATE {{leases}} SET expires_at = now() + $2::bigint * interval '1 microsecond'
WHERE owner = $1 AND expires_at > now();

-- name: held
SELECT bucket FROM {{leases}}
WHERE owner = $1 AND bucket = ANY($2::int[]) AND expires_at > now() ORDER BY bucket;

-- name: pick
SELECT bucket FROM {{leases}} WHERE expires_at <= now() ORDER BY bucket LIMIT $1;

-- name: take
-- The expiry is checked again: of two relays that picked the same bucket, one takes it.
UPDATE {{leases}} SET owner = $1, expires_at = now() + $2::bigint * interval '1 microsecond'
WHERE bucket = ANY($3::int[]) AND expires_at <= now();

-- name: release
UPDATE {{leases}} SET owner = '', expires_at = '-infinity' WHERE owner = $1 AND bucket = ANY($2::int[]);

-- name: release_all
UPDATE {{leases}} SET owner = '', expires_at = '-infinity' WHERE owner = $1;

-- name: watermark
-- The seq sequence moves with every insert, committed or not: a cheap sign that there may
-- be something to claim.
SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('{{table}}', 'seq')::regclass), 0);

-- name: set_waiting
UPDATE {{relays}} SET waiting = $2 WHERE id = $1;

-- name: status
-- In flight are the events of the batches open right now, which report their size in
-- application_name (claim); they are counted out of pending.
WITH in_flight AS (
	SELECT coalesce(sum(substr(application_name, length('{{batch_tag}}') + 1)::bigint), 0) AS n
	FROM pg_stat_activity WHERE state <> 'idle' AND starts_with(application_name, '{{batch_tag}}')
)
SELECT
	greatest(count(*) FILTER (WHERE status = 'pending') - (SELECT n FROM in_flight), 0),
	(SELECT n FROM in_flight),
	count(*) FILTER (WHERE status = 'dead'),
	count(*) FILTER (WHERE status = 'published'),
	coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8
FROM {{table}};

-- name: backlog
-- Status for sampling every few seconds, at a cost that stays bounded however large the
-- table: the counts read at most $1 entries of the claim and dead indexes, and the
-- oldest pending event is the first of each bucket's claim index, one probe per bucket.
WITH in_flight AS (
	SELECT coalesce(sum(substr(application_name, length('{{batch_tag}}') + 1)::bigint), 0) AS n
	FROM pg_stat_activity WHERE state <> 'idle' AND starts_with(application_name, '{{batch_tag}}')
)
SELECT
	greatest((SELECT count(*) FROM (SELECT 1 FROM {{table}} WHERE status = 'pending' LIMIT $1) p)
		- (SELECT n FROM in_flight), 0),
	(SELECT n FROM in_flight),
	(SELECT count(*) FROM (SELECT 1 FROM {{table}} WHERE status = 'dead' LIMIT $1) d),
	coalesce(extract(epoch FROM now() - (SELECT min((SELECT t.created_at FROM {{table}} t
		WHERE t.status = 'pending' AND t.bucket = l.bucket ORDER BY t.seq LIMIT 1)) FROM {{leases}} l)), 0)::float8;

-- name: topics
-- Pending and dead events by topic, with each topic's oldest pending event's age
-- (seconds, by the database's clock): the console's topics page. It reads every row
-- not yet published, so it is an operator's page, not a metric to poll.
SELECT topic, count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead'),
	coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8
FROM {{table}} WHERE status <> 'published' GROUP BY topic ORDER BY topic;

-- name: list_dead
-- Dead events after seq $2, in seq order, at most $1, filtered: exact topic ($3), event
-- type ($4) and key ($5), a case-insensitive substring of the last error ($6), and died
-- in [$7, $8) (Unix microseconds; 0 leaves that end open). An empty filter matches
-- every dead row. dead_at is NULL for rows that died before the column was added:
-- their written time stands in.
SELECT seq, id::text, topic, coalesce(encode(key, 'escape'), ''), event_type, attempts,
	coalesce(last_error, ''), created_at, coalesce(dead_at, created_at)
FROM {{table}}
WHERE status = 'dead' AND seq > $2
  AND ($3::text = '' OR topic = $3::text) AND ($4::text = '' OR event_type = $4::text)
  AND ($5::text = '' OR key = convert_to($5::text, 'UTF8'))
  AND ($6::text = '' OR strpos(lower(coalesce(last_error, '')), lower($6::text)) > 0)
  AND ($7::bigint = 0 OR coalesce(dead_at, created_at) >= to_timestamp($7::bigint / 1e6))
  AND ($8::bigint = 0 OR coalesce(dead_at, created_at) < to_timestamp($8::bigint / 1e6))
ORDER BY seq LIMIT $1;

-- name: list_dead_key
-- list_dead with a key ($5, not empty): the key's bucket, computed as the table's
-- column is, leads the dead index to that key's rows alone, where list_dead would read
-- every dead row to find a rare key's.
SELECT seq, id::text, topic, coalesce(encode(key, 'escape'), ''), event_type, attempts,
	coalesce(last_error, ''), created_at, coalesce(dead_at, created_at)
FROM {{table}}
WHERE status = 'dead' AND bucket = (hashtext(encode(convert_to($5::text, 'UTF8'), 'hex')) & 2147483647) % 64
  AND key = convert_to($5::text, 'UTF8') AND seq > $2
  AND ($3::text = '' OR topic = $3::text) AND ($4::text = '' OR event_type = $4::text)
  AND ($6::text = '' OR strpos(lower(coalesce(last_error, '')), lower($6::text)) > 0)
  AND ($7::bigint = 0 OR coalesce(dead_at, created_at) >= to_timestamp($7::bigint / 1e6))
  AND ($8::bigint = 0 OR coalesce(dead_at, created_at) < to_timestamp($8::bigint / 1e6))
ORDER BY seq LIMIT $1;

-- name: event
-- One event by id, whatever its state: the operator's "where is it". The last column is
-- when it entered its state: died, was published, or (pending) was written.
SELECT status, topic, coalesce(encode(key, 'escape'), ''), event_type, aggregate_type, aggregate_id,
	coalesce(payload, ''::bytea), headers::text, attempts, coalesce(last_error, ''), created_at,
	coalesce(dead_at, published_at, created_at)
FROM {{table}} WHERE id = $1::uuid;

-- name: retry_all
UPDATE {{table}} SET status = 'pending', attempts = 0, available_at = '-infinity', dead_at = NULL
WHERE status = 'dead';

-- name: dead_seq
-- The seq of the dead event $1, if it is one: what a retry or purge of a selection
-- needs of each event, without its payload.
SELECT seq FROM {{table}} WHERE id = $1::uuid AND status = 'dead';

-- name: retry_seqs
-- The dead events of a selection ($1, their seqs) back to pending; they keep their seq,
-- and so their place in their key's order.
UPDATE {{table}} SET status = 'pending', attempts = 0, available_at = '-infinity', dead_at = NULL
WHERE status = 'dead' AND seq = ANY($1::bigint[]);

-- name: purge_dead
-- Dead events that died more than $1 microseconds ago.
DELETE FROM {{table}} WHERE status = 'dead' AND coalesce(dead_at, created_at) < now() - $1::bigint * interval '1 microsecond';

-- name: purge_dead_seqs
DELETE FROM {{table}} WHERE status = 'dead' AND seq = ANY($1::bigint[]);

-- name: pending
-- The pending events in write order, at most $1, in the columns of a claimed row: what
-- an application's test reads through its own transaction (outboxtest).
SELECT seq, id::text, topic, key, key IS NULL, event_type, aggregate_type, aggregate_id, payload,
	payload IS NULL, headers::text, occurred_at, attempts, created_at, bucket
FROM {{table}} WHERE status = 'pending' ORDER BY seq LIMIT $1;

-- name: version
SELECT coalesce(max(version), 0) FROM {{migrations}};
