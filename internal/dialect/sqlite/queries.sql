-- The statements of the SQLite outbox. {{table}}, {{leases}}, {{relays}} and {{locks}}
-- are the quoted tables of migrations/, with the indexes each statement relies on.
-- {{now}} is the time in Unix microseconds, ticking in milliseconds (SQLite's clock);
-- durations come in as microseconds. The $n
-- become ? when loaded; a list argument ($n in IN (...)) becomes one ? per element.

-- name: peek
-- Whether a claim could find anything, keys that must wait left out ($2: dead keys too):
-- a claim holds its buckets with a write, which on SQLite waits for the one write lock
-- and syncs, so an idle worker must not claim what it cannot publish (every key waits
-- for its retry while Kafka is down).
SELECT EXISTS (SELECT 1 FROM {{table}}
	WHERE bucket IN ($1) AND status = 'pending' AND available_at <= {{now}}
	  AND (key IS NULL OR key NOT IN (
		SELECT key FROM {{table}}
		WHERE bucket IN ($1) AND key IS NOT NULL AND status = 'pending' AND attempts > 0 AND available_at > {{now}}
		UNION ALL
		SELECT key FROM {{table}} WHERE $2 AND bucket IN ($1) AND key IS NOT NULL AND status = 'dead')));

-- name: hold
-- The claim's first step: hold the buckets no other batch holds, until $2 from now.
UPDATE {{locks}} SET holder = $1, until = {{now}} + $2
WHERE bucket IN ($3) AND (holder = '' OR until <= {{now}})
RETURNING bucket;

-- name: keep
-- The settlement's first statement: the hold must still be the batch's own (its write
-- also takes SQLite's write lock before the transaction reads anything).
UPDATE {{locks}} SET until = {{now}} + $3 WHERE bucket IN ($1) AND holder = $2;

-- name: unhold
UPDATE {{locks}} SET holder = '', until = 0 WHERE bucket IN ($1) AND holder = $2;

-- name: claim_blocked
-- Keys that must wait: an earlier row waits for its retry (or, with $2, is dead).
SELECT key FROM {{table}}
WHERE bucket IN ($1) AND key IS NOT NULL AND status = 'pending' AND attempts > 0 AND available_at > {{now}}
UNION
SELECT key FROM {{table}} WHERE $2 AND bucket IN ($1) AND key IS NOT NULL AND status = 'dead';

-- name: claim_bucket
SELECT seq FROM (
	SELECT seq FROM {{table}}
	WHERE bucket = $1 AND status = 'pending' AND available_at <= {{now}}
	ORDER BY seq LIMIT $2);

-- name: claim_bucket_except
SELECT seq FROM (
	SELECT seq FROM {{table}}
	WHERE bucket = $1 AND status = 'pending' AND available_at <= {{now}}
	  AND (key IS NULL OR key NOT IN ($3))
	ORDER BY seq LIMIT $2);

-- name: claim_rows
SELECT seq, id, topic, key, key IS NULL, event_type, aggregate_type, aggregate_id, payload, payload IS NULL,
	headers, occurred_at, attempts, created_at, bucket
FROM {{table}} WHERE seq IN (SELECT seq FROM picked) ORDER BY seq;

-- name: mark_deleted
DELETE FROM {{table}} WHERE seq IN ($1);

-- name: mark_published
UPDATE {{table}} SET status = 'published', published_at = {{now}} WHERE seq IN ($1);

-- name: mark_carried_deleted
-- Rows a committed Kafka transaction carried, by seq and event id alike: a seq of an
-- outbox made anew names another event.
DELETE FROM {{table}} WHERE seq IN ($1) AND id IN ($2);

-- name: mark_carried_published
UPDATE {{table}} SET status = 'published', published_at = {{now}} WHERE seq IN ($1) AND id IN ($2);

-- name: mark_failed
-- Only permanent failures ($6) count towards the dead-letter state. random() is a
-- signed 64-bit integer: the jitter is [0.5, 1).
UPDATE {{table}} SET
	attempts = attempts + 1,
	last_error = $2,
	status = CASE WHEN $6 AND attempts + 1 >= $3 THEN 'dead' ELSE 'pending' END,
	dead_at = CASE WHEN $6 AND attempts + 1 >= $3 THEN {{now}} END,
	available_at = {{now}} + CAST(min($5, $4 * (1 << min(attempts, 30)))
		* (0.75 + random() / 36893488147419103232.0) AS INTEGER)
WHERE seq IN ($1) AND status = 'pending';

-- name: count_dead
SELECT count(*) FROM {{table}} WHERE seq IN ($1) AND status = 'dead';

-- name: purge
DELETE FROM {{table}} WHERE seq IN (
	SELECT seq FROM {{table}} WHERE status = 'published' AND published_at <= {{now}} - $1 LIMIT $2);

-- name: heartbeat
-- $2 is the relay's go-outbox version (migration: relay_version).
INSERT INTO {{relays}} (id, seen_at, version) VALUES ($1, {{now}}, $2)
ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, version = excluded.version;

-- name: forget
DELETE FROM {{relays}} WHERE id = $1 OR seen_at < {{now}} - $2;

-- name: alive
SELECT count(*) FROM {{relays}} WHERE seen_at > {{now}} - $1;

-- name: relays
-- The relays that send heartbeats, each with its heartbeat's age (seconds, by the
-- database's clock) and its version: the console's relays page.
SELECT id, ({{now}} - seen_at) / 1e6, version FROM {{relays}} ORDER BY id;

-- name: leases
-- Each bucket's owner, and whether its lease is live.
SELECT bucket, owner, expires_at > {{now}} FROM {{leases}} ORDER BY bucket;

-- name: renew
UPDATE {{leases}} SET expires_at = {{now}} + $2 WHERE owner = $1 AND expires_at > {{now}};

-- name: held
SELECT bucket FROM {{leases}} WHERE owner = $1 AND bucket IN ($2) AND expires_at > {{now}} ORDER BY bucket;

-- name: pick
SELECT bucket FROM {{leases}} WHERE expires_at <= {{now}} ORDER BY bucket LIMIT $1;

-- name: take
UPDATE {{leases}} SET owner = $1, expires_at = {{now}} + $2 WHERE bucket IN ($3) AND expires_at <= {{now}};

-- name: release
UPDATE {{leases}} SET owner = '', expires_at = 0 WHERE owner = $1 AND bucket IN ($2);

-- name: release_all
UPDATE {{leases}} SET owner = '', expires_at = 0 WHERE owner = $1;

-- name: watermark
-- The table's AUTOINCREMENT counter: it moves with every committed insert.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{{table_name}}'), 0);

-- name: status
-- SQLite does not report open batches: their events count as pending.
SELECT
	count(*) FILTER (WHERE status = 'pending'),
	0,
	count(*) FILTER (WHERE status = 'dead'),
	count(*) FILTER (WHERE status = 'published'),
	coalesce(({{now}} - min(created_at) FILTER (WHERE status = 'pending')) / 1e6, 0.0)
FROM {{table}};

-- name: backlog
-- Status for sampling every few seconds, at a cost that stays bounded however large the
-- table: the counts read at most $1 entries of the claim and dead indexes, and the
-- oldest pending event is the first of each bucket's claim index, one probe per bucket.
-- Open batches are not reported: their events count as pending.
SELECT
	(SELECT count(*) FROM (SELECT 1 FROM {{table}} WHERE status = 'pending' LIMIT $1)),
	0,
	(SELECT count(*) FROM (SELECT 1 FROM {{table}} WHERE status = 'dead' LIMIT $1)),
	coalesce(({{now}} - (SELECT min((SELECT t.created_at FROM {{table}} t
		WHERE t.status = 'pending' AND t.bucket = l.bucket ORDER BY t.seq LIMIT 1)) FROM {{leases}} l)) / 1e6, 0.0);

-- name: topics
-- Pending and dead events by topic, with each topic's oldest pending event's age
-- (seconds, by the database's clock): the console's topics page. It reads every row
-- not yet published, so it is an operator's page, not a metric to poll.
SELECT topic, sum(status = 'pending'), sum(status = 'dead'),
	coalesce(({{now}} - min(CASE WHEN status = 'pending' THEN created_at END)) / 1e6, 0.0)
FROM {{table}} WHERE status <> 'published' GROUP BY topic ORDER BY topic;

-- name: list_dead
-- Dead events after seq $2, in seq order, at most $1, filtered: exact topic ($3), event
-- type ($4) and key ($5), a case-insensitive substring of the last error ($6), and died
-- in [$7, $8) (Unix microseconds; 0 leaves that end open). An empty filter matches
-- every dead row. dead_at is NULL for rows that died before the column was added:
-- their written time stands in.
SELECT seq, id, topic, coalesce(CAST(key AS TEXT), ''), event_type, attempts, coalesce(last_error, ''),
	created_at, coalesce(dead_at, created_at)
FROM {{table}}
WHERE status = 'dead' AND seq > $2
  AND ($3 = '' OR topic = $3) AND ($4 = '' OR event_type = $4) AND ($5 = '' OR key = CAST($5 AS BLOB))
  AND ($6 = '' OR instr(lower(coalesce(last_error, '')), lower($6)) > 0)
  AND ($7 = 0 OR coalesce(dead_at, created_at) >= $7) AND ($8 = 0 OR coalesce(dead_at, created_at) < $8)
ORDER BY seq LIMIT $1;

-- name: list_dead_key
-- list_dead with a key ($5, not empty), through the dead rows' key index (migration
-- 003), where list_dead would read every dead row to find a rare key's.
SELECT seq, id, topic, coalesce(CAST(key AS TEXT), ''), event_type, attempts, coalesce(last_error, ''),
	created_at, coalesce(dead_at, created_at)
FROM {{table}}
WHERE status = 'dead' AND key = CAST($5 AS BLOB) AND seq > $2
  AND ($3 = '' OR topic = $3) AND ($4 = '' OR event_type = $4)
  AND ($6 = '' OR instr(lower(coalesce(last_error, '')), lower($6)) > 0)
  AND ($7 = 0 OR coalesce(dead_at, created_at) >= $7) AND ($8 = 0 OR coalesce(dead_at, created_at) < $8)
ORDER BY seq LIMIT $1;

-- name: event
-- One event by id, whatever its state: the operator's "where is it". The last column is
-- when it entered its state: died, was published, or (pending) was written.
SELECT status, topic, coalesce(CAST(key AS TEXT), ''), event_type, aggregate_type, aggregate_id,
	coalesce(payload, X''), headers, attempts, coalesce(last_error, ''), created_at,
	coalesce(dead_at, published_at, created_at)
FROM {{table}} WHERE id = $1;

-- name: retry_all
UPDATE {{table}} SET status = 'pending', attempts = 0, available_at = 0, dead_at = NULL WHERE status = 'dead';

-- name: dead_seq
-- The seq of the dead event $1, if it is one: what a retry or purge of a selection
-- needs of each event, without its payload.
SELECT seq FROM {{table}} WHERE id = $1 AND status = 'dead';

-- name: retry_seqs
-- The dead events of a selection ($1, their seqs) back to pending; they keep their seq,
-- and so their place in their key's order.
UPDATE {{table}} SET status = 'pending', attempts = 0, available_at = 0, dead_at = NULL WHERE status = 'dead' AND seq IN ($1);

-- name: purge_dead
-- Dead events that died more than $1 microseconds ago.
DELETE FROM {{table}} WHERE status = 'dead' AND coalesce(dead_at, created_at) <= {{now}} - $1;

-- name: purge_dead_seqs
DELETE FROM {{table}} WHERE status = 'dead' AND seq IN ($1);

-- name: pending
-- The pending events in write order, at most $1, in the columns of a claimed row: what
-- an application's test reads through its own transaction (outboxtest).
SELECT seq, id, topic, key, key IS NULL, event_type, aggregate_type, aggregate_id, payload, payload IS NULL,
	headers, occurred_at, attempts, created_at, bucket
FROM {{table}} WHERE status = 'pending' ORDER BY seq LIMIT $1;

-- name: version
SELECT coalesce(max(version), 0) FROM {{migrations}};
