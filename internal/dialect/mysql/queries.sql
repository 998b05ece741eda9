-- The statements of the MySQL / MariaDB outbox. {{table}}, {{leases}}, {{relays}} and
-- {{locks}} are the quoted tables of migrations/, with the indexes each statement relies
-- on. Times are UTC (UTC_TIMESTAMP(6)); durations come in as microseconds, times go out
-- as Unix microseconds. The $n become ? when loaded; a list argument ($n in IN (...))
-- becomes one ? per element.

-- name: peek
-- Whether a claim could find anything, by the claim index alone.
SELECT EXISTS (SELECT 1 FROM {{table}}
	WHERE status = 'pending' AND bucket IN ($1) AND available_at <= UTC_TIMESTAMP(6));

-- name: lock
-- A batch holds the buckets whose lock rows it could lock until its transaction ends; a
-- bucket another batch holds is left out.
SELECT bucket FROM {{locks}} WHERE bucket IN ($1) FOR UPDATE SKIP LOCKED;

-- name: claim_blocked
-- Keys that must wait: an earlier row waits for its retry (or, with $2, is dead).
SELECT `key` FROM {{table}}
WHERE status = 'pending' AND attempts > 0 AND available_at > UTC_TIMESTAMP(6) AND bucket IN ($1) AND `key` IS NOT NULL
UNION
SELECT `key` FROM {{table}} WHERE $2 AND status = 'dead' AND bucket IN ($1) AND `key` IS NOT NULL;

-- name: claim_bucket
(SELECT seq FROM {{table}}
	WHERE status = 'pending' AND bucket = $1 AND available_at <= UTC_TIMESTAMP(6)
	ORDER BY seq LIMIT $2);

-- name: claim_bucket_except
(SELECT seq FROM {{table}}
	WHERE status = 'pending' AND bucket = $1 AND available_at <= UTC_TIMESTAMP(6)
	  AND (`key` IS NULL OR `key` NOT IN ($3))
	ORDER BY seq LIMIT $2);

-- name: claim_rows
SELECT t.seq, t.id, t.topic, t.`key`, t.`key` IS NULL, t.event_type, t.aggregate_type, t.aggregate_id,
	t.payload, t.payload IS NULL, t.headers, TIMESTAMPDIFF(MICROSECOND, '1970-01-01', t.occurred_at), t.attempts,
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', t.created_at), t.bucket
FROM picked p JOIN {{table}} t ON t.seq = p.seq ORDER BY t.seq;

-- name: mark_deleted
-- The rows are reached from their list, one primary-key lookup each: STRAIGHT_JOIN reads
-- the list first. A DELETE that scans the table (as the optimizer chooses for a small
-- one, also when joined) waits for every row another transaction holds: a writer's
-- uncommitted insert, another batch's rows. An UPDATE reads past such rows (MySQL's
-- semi-consistent read), so the marks below may name their rows in a list.
DELETE t FROM JSON_TABLE(JSON_ARRAY($1), '$[*]' COLUMNS (seq BIGINT PATH '$')) s
STRAIGHT_JOIN {{table}} t ON t.seq = s.seq;

-- name: mark_published
UPDATE {{table}} SET status = 'published', published_at = UTC_TIMESTAMP(6) WHERE seq IN ($1);

-- name: mark_carried_deleted
-- Rows a committed Kafka transaction carried, by seq and event id alike (a seq of an
-- outbox made anew names another event), reached from their list as mark_deleted does.
DELETE t FROM JSON_TABLE(JSON_ARRAY($1), '$[*]' COLUMNS (seq BIGINT PATH '$')) s
STRAIGHT_JOIN {{table}} t ON t.seq = s.seq WHERE t.id IN ($2);

-- name: mark_carried_published
UPDATE {{table}} SET status = 'published', published_at = UTC_TIMESTAMP(6) WHERE seq IN ($1) AND id IN ($2);

-- name: mark_failed
-- Only permanent failures ($6) count towards the dead-letter state. MySQL assigns left
-- to right, each assignment seeing the ones before: attempts is counted up last.
UPDATE {{table}} SET
	status = CASE WHEN $6 AND attempts + 1 >= $3 THEN 'dead' ELSE 'pending' END,
	dead_at = CASE WHEN $6 AND attempts + 1 >= $3 THEN UTC_TIMESTAMP(6) END,
	available_at = UTC_TIMESTAMP(6) + INTERVAL CAST(LEAST($5, $4 * POW(2, LEAST(attempts, 30)))
		* (0.5 + RAND() / 2) AS SIGNED) MICROSECOND,
	last_error = $2,
	attempts = attempts + 1
WHERE seq IN ($1) AND status = 'pending';

-- name: count_dead
SELECT COUNT(*) FROM {{table}} WHERE seq IN ($1) AND status = 'dead';

-- name: purge
DELETE FROM {{table}}
WHERE status = 'published' AND published_at < UTC_TIMESTAMP(6) - INTERVAL $1 MICROSECOND
ORDER BY seq LIMIT $2;

-- name: heartbeat
-- $2 is the relay's go-outbox version (migration: relay_version).
INSERT INTO {{relays}} (id, seen_at, version) VALUES ($1, UTC_TIMESTAMP(6), $2)
ON DUPLICATE KEY UPDATE seen_at = UTC_TIMESTAMP(6), version = VALUES(version);

-- name: forget
DELETE FROM {{relays}} WHERE id = $1 OR seen_at < UTC_TIMESTAMP(6) - INTERVAL $2 MICROSECOND;

-- name: alive
SELECT COUNT(*) FROM {{relays}} WHERE seen_at > UTC_TIMESTAMP(6) - INTERVAL $1 MICROSECOND;

-- name: relays
-- The relays that send heartbeats, each with its heartbeat's age (seconds, by the
-- database's clock) and its version: the console's relays page.
SELECT id, TIMESTAMPDIFF(MICROSECOND, seen_at, UTC_TIMESTAMP(6)) / 1e6, version FROM {{relays}} ORDER BY id;

-- name: leases
-- Each bucket's owner, and whether its lease is live.
SELECT bucket, owner, expires_at > UTC_TIMESTAMP(6) FROM {{leases}} ORDER BY bucket;

-- name: renew
UPDATE {{leases}} SET expires_at = UTC_TIMESTAMP(6) + INTERVAL $2 MICROSECOND
WHERE owner = $1 AND expires_at > UTC_TIMESTAMP(6);

-- name: held
SELECT bucket FROM {{leases}} WHERE owner = $1 AND bucket IN ($2) AND expires_at > UTC_TIMESTAMP(6) ORDER BY bucket;

-- name: pick
SELECT bucket FROM {{leases}} WHERE expires_at <= UTC_TIMESTAMP(6) ORDER BY bucket LIMIT $1;

-- name: take
-- The expiry is checked again: of two relays that picked the same bucket, one takes it.
UPDATE {{leases}} SET owner = $1, expires_at = UTC_TIMESTAMP(6) + INTERVAL $2 MICROSECOND
WHERE bucket IN ($3) AND expires_at <= UTC_TIMESTAMP(6);

-- name: release
UPDATE {{leases}} SET owner = '', expires_at = '1970-01-01 00:00:00' WHERE owner = $1 AND bucket IN ($2);

-- name: release_all
UPDATE {{leases}} SET owner = '', expires_at = '1970-01-01 00:00:00' WHERE owner = $1;

-- name: watermark
-- The newest row: it moves with every committed insert (and when the newest row is
-- published and deleted, which costs one needless look).
SELECT COALESCE(MAX(seq), 0) FROM {{table}};

-- name: status
-- MySQL does not report open batches: their events count as pending.
SELECT
	COALESCE(SUM(status = 'pending'), 0),
	0,
	COALESCE(SUM(status = 'dead'), 0),
	COALESCE(SUM(status = 'published'), 0),
	COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(CASE WHEN status = 'pending' THEN created_at END), UTC_TIMESTAMP(6)) / 1e6, 0)
FROM {{table}};

-- name: backlog
-- Status for sampling every few seconds, at a cost that stays bounded however large the
-- table: the counts read at most $1 entries of the claim index (status, bucket, seq),
-- and the oldest pending event is the first of each bucket in it, one probe per bucket.
-- Open batches are not reported: their events count as pending.
SELECT
	(SELECT COUNT(*) FROM (SELECT 1 FROM {{table}} WHERE status = 'pending' LIMIT $1) p),
	0,
	(SELECT COUNT(*) FROM (SELECT 1 FROM {{table}} WHERE status = 'dead' LIMIT $1) d),
	COALESCE(TIMESTAMPDIFF(MICROSECOND, (SELECT MIN((SELECT t.created_at FROM {{table}} t
		WHERE t.status = 'pending' AND t.bucket = l.bucket ORDER BY t.seq LIMIT 1)) FROM {{leases}} l),
		UTC_TIMESTAMP(6)) / 1e6, 0);

-- name: topics
-- Pending and dead events by topic, with each topic's oldest pending event's age
-- (seconds, by the database's clock): the console's topics page. It reads every row
-- not yet published, so it is an operator's page, not a metric to poll.
SELECT topic, SUM(status = 'pending'), SUM(status = 'dead'),
	COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(IF(status = 'pending', created_at, NULL)), UTC_TIMESTAMP(6)) / 1e6, 0)
FROM {{table}} WHERE status IN ('pending', 'dead') GROUP BY topic ORDER BY topic;

-- name: list_dead
-- Dead events after seq $2, in seq order, at most $1, filtered: exact topic ($3), event
-- type ($4) and key ($5), a case-insensitive substring of the last error ($6), and died
-- in [$7, $8) (Unix microseconds; 0 leaves that end open). An empty filter matches
-- every dead row. dead_at is NULL for rows that died before the column was added:
-- their written time stands in.
SELECT seq, id, topic, COALESCE(`key`, ''), event_type, attempts, COALESCE(last_error, ''),
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at),
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', COALESCE(dead_at, created_at))
FROM {{table}}
WHERE status = 'dead' AND seq > $2
  AND ($3 = '' OR topic = $3) AND ($4 = '' OR event_type = $4) AND ($5 = '' OR `key` = $5)
  AND ($6 = '' OR LOCATE(LOWER($6), LOWER(COALESCE(last_error, ''))) > 0)
  AND ($7 = 0 OR COALESCE(dead_at, created_at) >= TIMESTAMPADD(MICROSECOND, $7, '1970-01-01'))
  AND ($8 = 0 OR COALESCE(dead_at, created_at) < TIMESTAMPADD(MICROSECOND, $8, '1970-01-01'))
ORDER BY seq LIMIT $1;

-- name: list_dead_key
-- list_dead with a key ($5, not empty): the key's bucket, computed as the table's
-- column is, leads claim_idx (status, bucket, seq) to that key's bucket in seq order,
-- where list_dead would read every dead row to find a rare key's.
SELECT seq, id, topic, COALESCE(`key`, ''), event_type, attempts, COALESCE(last_error, ''),
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at),
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', COALESCE(dead_at, created_at))
FROM {{table}}
WHERE status = 'dead' AND bucket = CRC32($5) % 64 AND `key` = $5 AND seq > $2
  AND ($3 = '' OR topic = $3) AND ($4 = '' OR event_type = $4)
  AND ($6 = '' OR LOCATE(LOWER($6), LOWER(COALESCE(last_error, ''))) > 0)
  AND ($7 = 0 OR COALESCE(dead_at, created_at) >= TIMESTAMPADD(MICROSECOND, $7, '1970-01-01'))
  AND ($8 = 0 OR COALESCE(dead_at, created_at) < TIMESTAMPADD(MICROSECOND, $8, '1970-01-01'))
ORDER BY seq LIMIT $1;

-- name: event
-- One event by id, whatever its state: the operator's "where is it". The last column is
-- when it entered its state: died, was published, or (pending) was written.
SELECT status, topic, COALESCE(`key`, ''), event_type, aggregate_type, aggregate_id,
	COALESCE(payload, ''), headers, attempts, COALESCE(last_error, ''),
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at),
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', COALESCE(dead_at, published_at, created_at))
FROM {{table}} WHERE id = $1;

-- name: retry_all
UPDATE {{table}} SET status = 'pending', attempts = 0, available_at = '1970-01-01 00:00:00', dead_at = NULL
WHERE status = 'dead';

-- name: dead_seq
-- The seq of the dead event $1, if it is one: what a retry or purge of a selection
-- needs of each event, without its payload.
SELECT seq FROM {{table}} WHERE id = $1 AND status = 'dead';

-- name: retry_seqs
-- The dead events of a selection ($1, their seqs) back to pending; they keep their seq,
-- and so their place in their key's order.
UPDATE {{table}} SET status = 'pending', attempts = 0, available_at = '1970-01-01 00:00:00', dead_at = NULL
WHERE status = 'dead' AND seq IN ($1);

-- name: purge_dead
-- Dead events that died more than $1 microseconds ago.
DELETE FROM {{table}} WHERE status = 'dead' AND COALESCE(dead_at, created_at) < UTC_TIMESTAMP(6) - INTERVAL $1 MICROSECOND;

-- name: purge_dead_seqs
DELETE FROM {{table}} WHERE status = 'dead' AND seq IN ($1);

-- name: pending
-- The pending events in write order, at most $1, in the columns of a claimed row: what
-- an application's test reads through its own transaction (outboxtest).
SELECT seq, id, topic, `key`, `key` IS NULL, event_type, aggregate_type, aggregate_id,
	payload, payload IS NULL, headers, TIMESTAMPDIFF(MICROSECOND, '1970-01-01', occurred_at), attempts,
	TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at), bucket
FROM {{table}} WHERE status = 'pending' ORDER BY seq LIMIT $1;

-- name: version
SELECT COALESCE(MAX(version), 0) FROM {{migrations}};
