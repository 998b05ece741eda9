package pgstore

import "strings"

// queries holds every statement the store runs, with the table names filled in. Arrays
// are passed as text literals and cast, so database/sql drivers without array support
// carry them too. The indexes these rely on are in migrations/001_init.sql.
type queries struct {
	claim, markDeleted, markPublished, markFailed, release, purge string
	heartbeat, alive, forget, renew, acquire, releaseLeases       string
	releaseClaims                                                 string
	status, listDead, retryOne, retryAll, purgeDead               string
}

const claimedCols = `seq, id::text, topic, key, event_type, aggregate_type, aggregate_id,
	payload, payload IS NULL, headers::text, occurred_at, attempts`

func newQueries(n Names) queries {
	r := strings.NewReplacer("{T}", n.table, "{L}", n.leases, "{R}", n.relays)
	return queries{
		// Rows another relay claimed less than a lease ago are skipped, and so are their
		// keys, as are keys with an earlier row waiting for its retry (or, with $3, a dead
		// row): those keys stay in order while the others go on.
		claim: r.Replace(`
WITH blocked AS (
	SELECT key FROM {T}
	WHERE bucket = ANY($1::text::int[]) AND key IS NOT NULL AND status = 'pending'
	  AND (attempts > 0 OR claimed_until IS NOT NULL)
	  AND ((attempts > 0 AND available_at > now()) OR (claimed_until > now() AND claimed_by <> $4))
	UNION ALL
	SELECT key FROM {T}
	WHERE $3 AND bucket = ANY($1::text::int[]) AND key IS NOT NULL AND status = 'dead'
)
UPDATE {T} SET claimed_by = $4, claimed_until = now() + make_interval(secs => $5)
WHERE seq IN (
	SELECT seq FROM {T}
	WHERE bucket = ANY($1::text::int[]) AND status = 'pending' AND available_at <= now()
	  AND (claimed_until IS NULL OR claimed_until <= now() OR claimed_by = $4)
	  AND (key IS NULL OR key NOT IN (SELECT key FROM blocked))
	ORDER BY seq
	LIMIT $2
	FOR UPDATE SKIP LOCKED
)
RETURNING ` + claimedCols),
		markDeleted: r.Replace(`DELETE FROM {T} WHERE seq = ANY($1::text::bigint[])`),
		markPublished: r.Replace(`UPDATE {T} SET status = 'published', published_at = now(), claimed_by = NULL, claimed_until = NULL
WHERE seq = ANY($1::text::bigint[])`),
		// Only permanent failures ($6) count towards the dead-letter state; transient ones
		// (broker down) back off for ever, so an outage loses nothing.
		markFailed: r.Replace(`WITH failed AS (
	UPDATE {T} SET
		attempts = attempts + 1,
		last_error = $2,
		claimed_by = NULL, claimed_until = NULL,
		status = CASE WHEN $6 AND attempts + 1 >= $3 THEN 'dead' ELSE 'pending' END,
		available_at = now() + make_interval(secs =>
			least($5::float8, $4::float8 * power(2, least(attempts, 30))) * (0.5 + random() / 2))
	WHERE seq = ANY($1::text::bigint[]) AND status = 'pending'
	RETURNING status
)
SELECT count(*) FILTER (WHERE status = 'dead') FROM failed`),
		release: r.Replace(`UPDATE {T} SET claimed_by = NULL, claimed_until = NULL WHERE seq = ANY($1::text::bigint[]) AND status = 'pending'`),
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

		releaseClaims: r.Replace(`UPDATE {T} SET claimed_by = NULL, claimed_until = NULL
WHERE status = 'pending' AND claimed_until IS NOT NULL AND claimed_by = $1`),

		status: r.Replace(`SELECT
	count(*) FILTER (WHERE status = 'pending' AND NOT coalesce(claimed_until > now(), false)),
	count(*) FILTER (WHERE status = 'pending' AND claimed_until > now()),
	count(*) FILTER (WHERE status = 'dead'),
	count(*) FILTER (WHERE status = 'published'),
	coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8
FROM {T}`),
		listDead: r.Replace(`SELECT id::text, topic, coalesce(encode(key, 'escape'), ''), event_type, attempts,
	coalesce(last_error, ''), created_at
FROM {T} WHERE status = 'dead' ORDER BY seq LIMIT $1`),
		retryOne: r.Replace(`UPDATE {T} SET status = 'pending', attempts = 0, available_at = '-infinity', claimed_by = NULL, claimed_until = NULL
WHERE status = 'dead' AND id = $1::text::uuid`),
		retryAll: r.Replace(`UPDATE {T} SET status = 'pending', attempts = 0, available_at = '-infinity', claimed_by = NULL, claimed_until = NULL
WHERE status = 'dead'`),
		purgeDead: r.Replace(`DELETE FROM {T} WHERE status = 'dead' AND created_at < now() - make_interval(secs => $1)`),
	}
}
