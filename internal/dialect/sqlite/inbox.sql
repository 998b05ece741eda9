-- The consumer inbox's statements on SQLite (see internal/dialect/postgres/inbox.sql).

-- name: record
INSERT INTO {{table}} (consumer_group, event_id, topic, kpartition, koffset)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING;

-- name: dead
INSERT INTO {{dead}} (consumer_group, event_id, topic, kpartition, koffset, record_key, record_value,
	headers, record_time, error, attempts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT DO NOTHING;

-- name: list_dead
-- Dead events of group $1 (every group for ''), after row $3, in the order they died,
-- at most $2, filtered as the outbox's list_dead is: exact topic ($4) and key ($5), a
-- case-insensitive part of the error ($6), died in [$7, $8) (Unix microseconds; 0
-- leaves that end open).
SELECT id, consumer_group, event_id, topic, kpartition, koffset, record_key, error, attempts, dead_at, retry
FROM {{dead}}
WHERE ($1 = '' OR consumer_group = $1) AND id > $3
  AND ($4 = '' OR topic = $4) AND ($5 = '' OR record_key = CAST($5 AS BLOB))
  AND ($6 = '' OR instr(lower(error), lower($6)) > 0)
  AND ($7 = 0 OR dead_at >= $7) AND ($8 = 0 OR dead_at < $8)
ORDER BY id LIMIT $2;

-- name: retry_one
UPDATE {{dead}} SET retry = 1 WHERE consumer_group = $1 AND event_id = $2 AND NOT retry;

-- name: retry_all
UPDATE {{dead}} SET retry = 1 WHERE consumer_group = $1 AND NOT retry;

-- name: retry_rows
-- The dead rows $2 of group $1 not yet asked for, as retry_all asks for all.
UPDATE {{dead}} SET retry = 1 WHERE consumer_group = $1 AND NOT retry AND id IN ($2);

-- name: retries
SELECT id, event_id, topic, kpartition, koffset, record_key, record_value, headers, record_time, attempts
FROM {{dead}} WHERE consumer_group = $1 AND retry
ORDER BY id LIMIT $2;

-- name: take_retry
DELETE FROM {{dead}} WHERE id = $1 AND retry;

-- name: fail_retry
UPDATE {{dead}} SET retry = 0, attempts = attempts + 1, error = $2, dead_at = {{now}} WHERE id = $1;

-- name: purge_dead
-- The group's events that died more than $2 microseconds ago.
DELETE FROM {{dead}} WHERE consumer_group = $1 AND dead_at <= {{now}} - $2;

-- name: purge_dead_one
DELETE FROM {{dead}} WHERE consumer_group = $1 AND event_id = $2;

-- name: purge_dead_rows
DELETE FROM {{dead}} WHERE consumer_group = $1 AND id IN ($2);

-- name: purge
DELETE FROM {{table}} WHERE (consumer_group, event_id) IN (
	SELECT consumer_group, event_id FROM {{table}} WHERE handled_at < {{now}} - $1 LIMIT $2);

-- name: count_dead
SELECT count(*) FROM {{dead}} WHERE $1 = '' OR consumer_group = $1;
