package sqldb

import (
	"context"
	"fmt"
	"strings"

	"github.com/firstunicorn/outbox/relay/source"
)

// PerBucket is how many rows a claim reads at most from each bucket: four times an even
// share of the batch, at least 16. A bucket with a backlog of its own (a hot key) still
// gets that many per batch; the batch is filled from the oldest candidates.
func PerBucket(limit, buckets int) int {
	return max(16, (4*limit+buckets-1)/max(buckets, 1))
}

// BucketClaim is the claim of the dialects without lateral joins (MySQL, SQLite), from
// these statements of their queries.sql:
//
//	claim_blocked       ($1 buckets, $2 hold dead keys)  keys that must wait: a retry due later, or dead
//	claim_bucket        ($1 bucket, $2 rows)             one bucket's oldest claimable rows
//	claim_bucket_except ($1 bucket, $2 rows, $3 keys)    the same, leaving out keys
//	claim_rows          ()                               the rows picked, in seq order, as RawRecord scans them
//
// It reads the blocked keys first (almost always none), then the batch in one
// statement: WITH picked AS (claim_bucket UNION ALL ... ORDER BY seq LIMIT limit)
// claim_rows. Each bucket is read through the claim index, oldest first, at most
// PerBucket rows, so the cost is bounded by the batch, not the backlog. (Left out by a
// subquery instead, the blocked keys cost MariaDB a subquery per row read: a hundred
// milliseconds a batch where the list costs nothing.)
func BucketClaim(ctx context.Context, db Querier, q Queries, buckets Int64s, p *source.ClaimParams) ([]source.Record, error) {
	blocked, err := blockedKeys(ctx, db, q, buckets, p.HoldDeadKeys)
	if err != nil {
		return nil, fmt.Errorf("blocked keys: %w", err)
	}
	var b strings.Builder
	var args []any
	b.WriteString("WITH picked AS (")
	per := PerBucket(p.Limit, len(buckets))
	for i, bucket := range buckets {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		s, a := q["claim_bucket"].Bind(bucket, per)
		if len(blocked) > 0 {
			s, a = q["claim_bucket_except"].Bind(bucket, per, blocked)
		}
		b.WriteString(s)
		args = append(args, a...)
	}
	b.WriteString(" ORDER BY seq LIMIT ?) ")
	args = append(args, p.Limit)
	rows, _ := q["claim_rows"].Bind()
	b.WriteString(rows)
	return ReadRecords(ctx, db, b.String(), args)
}

func blockedKeys(ctx context.Context, db Querier, q Queries, buckets Int64s, holdDead bool) (Keys, error) {
	sql, args := q["claim_blocked"].Bind(buckets, holdDead)
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys Keys
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ClaimNames are the statements BucketClaim needs.
var ClaimNames = []string{"claim_blocked", "claim_bucket", "claim_bucket_except", "claim_rows"}
