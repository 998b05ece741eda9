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
SELECT id, consumer_group, event_id, topic, kpartition, koffset, record_key, error, attempts, dead_at, retry
FROM {{dead}} WHERE $1 = '' OR consumer_group = $1
ORDER BY id LIMIT $2;

-- name: retry_one
UPDATE {{dead}} SET retry = 1 WHERE consumer_group = $1 AND event_id = $2;

-- name: retry_all
UPDATE {{dead}} SET retry = 1 WHERE consumer_group = $1 AND NOT retry;

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

-- name: purge
DELETE FROM {{table}} WHERE (consumer_group, event_id) IN (
	SELECT consumer_group, event_id FROM {{table}} WHERE handled_at < {{now}} - $1 LIMIT $2);

-- name: count_dead
SELECT count(*) FROM {{dead}} WHERE $1 = '' OR consumer_group = $1;
