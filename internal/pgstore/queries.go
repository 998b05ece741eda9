package pgstore

import "strings"

// queries holds every statement the store runs, with the table names filled in. Arrays
// are passed as text literals and cast, so database/sql drivers without array support
// carry them too. The indexes these rely on are in migrations/001_init.sql.
type queries struct {
	peek, lock, claim, markDeleted, markPublished, markFailed, purge string
	heartbeat, alive, forget, renew, acquire, releaseLeases          string
	status, listDead, retryOne, retryAll, purgeDead                  string
	watermark, setWaiting                                            string
}

const claimedCols = `seq, id::text, topic, key, event_type, aggregate_type, aggregate_id,
	payload, payload IS NULL, headers::text, occurred_at, attempts`

func newQueries(n Names) queries {
	r := strings.NewReplacer("{T}", n.table, "{L}", n.leases, "{R}", n.relays)
	return queries{
		// Whether a claim could find anything, by the claim index alone: an idle worker
		// costs one round trip instead of a transaction's four.
		peek: r.Replace(`SELECT EXISTS (SELECT 1 FROM {T}
	WHERE bucket = ANY($1::text::int[]) AND status = 'pending' AND available_at <= now())`),
		// A batch holds the buckets it could lock until it ends; a bucket another batch
		// holds is left out. The idle timeout lets the server end a batch whose relay froze.
		// The batch's commit records only that published rows are gone (or a retry is
		// due): losing the last few such commits in a crash means sending those events
		// again, which at-least-once allows, so it does not wait for the WAL flush.
		// Writers' transactions keep their own synchronous_commit.
		lock: `SELECT set_config('idle_in_transaction_session_timeout', $3, true),
	set_config('synchronous_commit', 'off', true),
	(SELECT coalesce(array_agg(b), '{}')::text FROM unnest($1::text::int[]) b WHERE pg_try_advisory_xact_lock($2, b))`,
		// Keys with an earlier row waiting for its retry (or, with $3, a dead row) are
		// skipped, so they stay in order while the other keys go on. Each bucket is read
		// through the claim index, oldest first, at most $5 rows (a few times its share
		// of the batch): the cost is bounded by the batch, not by the backlog, and index
		// scans skip the entries of deleted rows once seen, where a bitmap scan over all
		// the buckets' rows, then a sort, slowed down with every row not yet vacuumed.
		// The batch's size goes into application_name until it ends: the in-flight count
		// of Status.
		claim: r.Replace(`
WITH blocked AS (
	SELECT key FROM {T}
	WHERE bucket = ANY($1::text::int[]) AND key IS NOT NULL
	  AND status = 'pending' AND attempts > 0 AND available_at > now()
	UNION ALL
	SELECT key FROM {T}
	WHERE $3 AND bucket = ANY($1::text::int[]) AND key IS NOT NULL AND status = 'dead'
), picked AS (
	SELECT p.seq FROM unnest($1::text::int[]) b, LATERAL (
		SELECT seq FROM {T}
		WHERE bucket = b AND status = 'pending' AND available_at <= now()
		  AND (key IS NULL OR key NOT IN (SELECT key FROM blocked))
		ORDER BY seq
		LIMIT $5
	) p
	ORDER BY p.seq
	LIMIT $2
), claimed AS (
	SELECT ` + claimedCols + ` FROM {T} WHERE seq IN (SELECT seq FROM picked) ORDER BY seq
)
SELECT *, set_config('application_name', $4 || (SELECT count(*) FROM claimed), true) FROM claimed`),
		markDeleted: r.Replace(`DELETE FROM {T} WHERE seq = ANY($1::text::bigint[])`),
		markPublished: r.Replace(`UPDATE {T} SET status = 'published', published_at = now()
WHERE seq = ANY($1::text::bigint[])`),
		// Only permanent failures ($6) count towards the dead-letter state; transient ones
		// (broker down) back off for ever, so an outage loses nothing.
		markFailed: r.Replace(`WITH failed AS (
	UPDATE {T} SET
		attempts = attempts + 1,
		last_error = $2,
		status = CASE WHEN $6 AND attempts + 1 >= $3 THEN 'dead' ELSE 'pending' END,
		available_at = now() + make_interval(secs =>
			least($5::float8, $4::float8 * power(2, least(attempts, 30))) * (0.5 + random() / 2))
	WHERE seq = ANY($1::text::bigint[]) AND status = 'pending'
	RETURNING status
)
SELECT count(*) FILTER (WHERE status = 'dead') FROM failed`),
		purge: r.Replace(`DELETE FROM {T} WHERE seq IN (
	SELECT seq FROM {T} WHERE status = 'published' AND published_at < now() - make_interval(secs => $1)
	LIMIT 10000)`),

		heartbeat: r.Replace(`INSERT INTO {R} (id, seen_at) VALUES ($1, now())
ON CONFLICT (id) DO UPDATE SET seen_at = now()`),
		alive:  r.Replace(`SELECT count(*) FROM {R} WHERE seen_at > now() - make_interval(secs => $1)`),
		forget: r.Replace(`DELETE FROM {R} WHERE id = $1 OR seen_at < now() - make_interval(secs => $2)`),
		renew: r.Replace(`UPDATE {L} SET expires_at = now() + make_interval(secs => $2)
WHERE owner = $1 AND expires_at > now()
RETURNING bucket`),
		acquire: r.Replace(`UPDATE {L} SET owner = $1, expires_at = now() + make_interval(secs => $2)
WHERE bucket IN (
	SELECT bucket FROM {L} WHERE expires_at <= now() ORDER BY bucket LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING bucket`),
		releaseLeases: r.Replace(`UPDATE {L} SET owner = '', expires_at = '-infinity'
WHERE owner = $1 AND ($2::text IS NULL OR bucket = ANY($2::text::int[]))`),

		// The seq sequence moves with every insert, committed or not: a cheap sign that
		// there may be something to claim.
		watermark:  r.Replace(`SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('{T}', 'seq')::regclass), 0)`),
		setWaiting: r.Replace(`UPDATE {R} SET waiting = $2 WHERE id = $1`),

		status: r.Replace(`WITH in_flight AS (
	SELECT coalesce(sum(substr(application_name, length($1) + 1)::bigint), 0) AS n
	FROM pg_stat_activity WHERE state <> 'idle' AND starts_with(application_name, $1)
)
SELECT
	greatest(count(*) FILTER (WHERE status = 'pending') - (SELECT n FROM in_flight), 0),
	(SELECT n FROM in_flight),
	count(*) FILTER (WHERE status = 'dead'),
	count(*) FILTER (WHERE status = 'published'),
	coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8
FROM {T}`),
		listDead: r.Replace(`SELECT id::text, topic, coalesce(encode(key, 'escape'), ''), event_type, attempts,
	coalesce(last_error, ''), created_at
FROM {T} WHERE status = 'dead' ORDER BY seq LIMIT $1`),
		retryOne: r.Replace(`UPDATE {T} SET status = 'pending', attempts = 0, available_at = '-infinity'
WHERE status = 'dead' AND id = $1::text::uuid`),
		retryAll: r.Replace(`UPDATE {T} SET status = 'pending', attempts = 0, available_at = '-infinity'
WHERE status = 'dead'`),
		purgeDead: r.Replace(`DELETE FROM {T} WHERE status = 'dead' AND created_at < now() - make_interval(secs => $1)`),
	}
}
