package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
)

// Store implements relay.Store and the operator commands over one outbox table.
type Store struct {
	db    DB
	names Names
	q     queries
}

var _ relay.Store = (*Store)(nil)

// New returns a store over the outbox table named by n.
func New(db DB, n Names) *Store {
	return &Store{db: db, names: n, q: newQueries(n)}
}

// Names returns the store's table names.
func (s *Store) Names() Names { return s.names }

// Migrate brings the store's schema to the latest version.
func (s *Store) Migrate(ctx context.Context) ([]int, error) { return Migrate(ctx, s.db, s.names) }

// Buckets implements relay.Store.
func (s *Store) Buckets() int { return Buckets }

// Claim implements relay.Store: a transaction that locks the buckets, then reads the
// batch. Nothing is written to the claimed rows.
func (s *Store) Claim(ctx context.Context, p *relay.ClaimParams) (relay.Batch, error) {
	if len(p.Buckets) == 0 || p.Limit <= 0 {
		return nil, nil
	}
	var claimable bool
	if err := queryRow(ctx, s.db, s.q.peek, []any{intArray(p.Buckets)}, &claimable); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if !claimable {
		return nil, nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim: begin: %w", err)
	}
	recs, err := s.claim(ctx, tx, p)
	if err != nil || len(recs) == 0 {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		return nil, nil
	}
	return &batch{tx: tx, q: &s.q, recs: recs}, nil
}

func (s *Store) claim(ctx context.Context, tx Tx, p *relay.ClaimParams) ([]relay.Record, error) {
	var (
		timeout, syncCommit string // set_config's results, read and dropped
		locked              string
	)
	idle := strconv.FormatInt(p.IdleTimeout.Milliseconds(), 10)
	if err := queryRow(ctx, tx, s.q.lock, []any{intArray(p.Buckets), s.names.lockClass, idle}, &timeout, &syncCommit, &locked); err != nil {
		return nil, fmt.Errorf("lock buckets: %w", err)
	}
	if locked == "{}" {
		return nil, nil
	}
	rows, err := tx.Query(ctx, s.q.claim, locked, p.Limit, p.HoldDeadKeys, s.names.appName, perBucket(p.Limit, len(p.Buckets)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []relay.Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		recs = append(recs, rec)
	}
	return recs, rows.Err()
}

// perBucket is how many rows a claim reads at most from each bucket: four times an even
// share of the batch, at least 16. A bucket with a backlog of its own (a hot key) still
// gets that many per batch; the batch is filled from the oldest candidates.
func perBucket(limit, buckets int) int {
	return max(16, (4*limit+buckets-1)/max(buckets, 1))
}

// batch is an open claim transaction.
type batch struct {
	tx   Tx
	q    *queries
	recs []relay.Record
}

func (b *batch) Records() []relay.Record { return b.recs }

// MarkPublished implements relay.Batch.
func (b *batch) MarkPublished(ctx context.Context, seqs []int64, keep bool) error {
	q := b.q.markDeleted
	if keep {
		q = b.q.markPublished
	}
	if _, err := b.tx.Exec(ctx, q, int64Array(seqs)); err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	return nil
}

// MarkFailed implements relay.Batch.
func (b *batch) MarkFailed(ctx context.Context, p *relay.FailParams) (int, error) {
	var dead int
	args := []any{int64Array(p.Seqs), p.Error, p.MaxAttempts, p.Backoff.Seconds(), p.MaxBackoff.Seconds(), p.Permanent}
	if err := queryRow(ctx, b.tx, b.q.markFailed, args, &dead); err != nil {
		return 0, fmt.Errorf("mark failed: %w", err)
	}
	return dead, nil
}

func (b *batch) Commit(ctx context.Context) error {
	if err := b.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

func (b *batch) Rollback(ctx context.Context) error { return b.tx.Rollback(ctx) }

func scanRecord(rows Rows) (relay.Record, error) {
	var (
		rec         relay.Record
		id, headers string
		payloadNull bool
		m           = &rec.Message
	)
	var appName string // the claim's set_config result, read and dropped
	err := rows.Scan(&rec.Seq, &id, &m.Topic, &m.Key, &m.Type, &m.AggregateType, &m.AggregateID,
		&m.Payload, &payloadNull, &headers, &m.OccurredAt, &rec.Attempts, &appName)
	if err != nil {
		return rec, err
	}
	if m.ID, err = uuid.Parse(id); err != nil {
		rec.DecodeErr = fmt.Errorf("id %q: %w", id, err)
	}
	if payloadNull {
		rec.DecodeErr = fmt.Errorf("payload is NULL: write an empty payload instead")
	}
	if h, err := decodeHeaders(headers); err != nil {
		rec.DecodeErr = err
	} else {
		m.Headers = h
	}
	if rec.DecodeErr == nil {
		rec.DecodeErr = m.Validate(maxLimits)
	}
	return rec, nil
}

// decodeHeaders decodes the headers column, a JSON object of strings ("{}" = none). A
// row written by hand may hold any JSON: anything else is the row's decode error.
func decodeHeaders(s string) (map[string]string, error) {
	if s == "{}" {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(s), &h); err != nil || h == nil {
		if err == nil {
			err = errors.New("not an object")
		}
		return nil, fmt.Errorf("headers %.200s are not a JSON object of strings: %w", s, err)
	}
	return h, nil
}

// Purge implements relay.Store: it deletes in chunks so no statement runs long.
func (s *Store) Purge(ctx context.Context, age time.Duration) (int64, error) {
	var total int64
	for {
		n, err := s.db.Exec(ctx, s.q.purge, age.Seconds())
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		total += n
		if n < 10000 {
			return total, nil
		}
	}
}

// maxLimits checks what a stored row must satisfy to be sent at all; size limits are the
// writer's business, and the broker has the last word on them.
var maxLimits = outbox.Limits{MaxKeyBytes: math.MaxInt, MaxPayloadBytes: math.MaxInt, MaxHeadersBytes: math.MaxInt}

func int64Array(vs []int64) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	b.WriteByte('}')
	return b.String()
}

func intArray(vs []int) string {
	s := make([]int64, len(vs))
	for i, v := range vs {
		s[i] = int64(v)
	}
	return int64Array(s)
}
