package sqldb

import (
	"strings"

	"github.com/firstunicorn/outbox/relay"
)

// PerBucket is how many rows a claim reads at most from each bucket: four times an even
// share of the batch, at least 16. A bucket with a backlog of its own (a hot key) still
// gets that many per batch; the batch is filled from the oldest candidates.
func PerBucket(limit, buckets int) int {
	return max(16, (4*limit+buckets-1)/max(buckets, 1))
}

// BucketClaim assembles the claim of the dialects without lateral joins (MySQL,
// SQLite) from three statements of their queries.sql:
//
//	claim_blocked ($1 buckets, $2 hold dead keys)  keys that must wait: a retry due later, or dead
//	claim_bucket  ($1 bucket, $2 rows)             one bucket's oldest claimable rows
//	claim_rows    ()                               the rows picked, in seq order, as RawRecord scans them
//
// into WITH blocked AS (claim_blocked), picked AS (claim_bucket UNION ALL ... ORDER BY
// seq LIMIT limit) claim_rows: each bucket is read through the claim index, oldest
// first, at most PerBucket rows, so the cost is bounded by the batch, not the backlog.
func BucketClaim(q Queries, buckets Int64s, p *relay.ClaimParams) (string, []any) {
	var b strings.Builder
	sql, args := q["claim_blocked"].Bind(buckets, p.HoldDeadKeys)
	b.WriteString("WITH blocked AS (")
	b.WriteString(sql)
	b.WriteString("), picked AS (")
	per := PerBucket(p.Limit, len(buckets))
	for i, bucket := range buckets {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		s, a := q["claim_bucket"].Bind(bucket, per)
		b.WriteString(s)
		args = append(args, a...)
	}
	b.WriteString(" ORDER BY seq LIMIT ?) ")
	args = append(args, p.Limit)
	rows, _ := q["claim_rows"].Bind()
	b.WriteString(rows)
	return b.String(), args
}

// ClaimNames are the statements BucketClaim needs.
var ClaimNames = []string{"claim_blocked", "claim_bucket", "claim_rows"}
