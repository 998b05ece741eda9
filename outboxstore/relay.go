package outboxstore

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay/source"
)

// table is table mode's outbox as the relay works it: source.Store and source.Notifier.
type table struct{ c *core }

var (
	_ source.Store    = table{}
	_ source.Notifier = table{}
)

// buckets is the number of key buckets, fixed by the schema of every dialect.
const buckets = 64

// forgetByName is the silence passed to the forget statement, which deletes the relay
// named and every relay silent for longer than the silence given, when it should delete
// the named one alone: no relay has been silent this long.
const forgetByName = 1_000_000 * time.Hour

// purgeChunk bounds one purge statement, so none runs long.
const purgeChunk = 10_000

// Buckets implements source.Store.
func (t table) Buckets() int { return buckets }

// Heartbeat implements source.Store. It also forgets relays silent for 10 TTLs, so the
// table does not grow with every process that ever ran.
func (t table) Heartbeat(ctx context.Context, owner string, ttl time.Duration) (int, error) {
	if _, err := sqldb.Exec(ctx, t.c.db, t.c.q["heartbeat"], owner, version()); err != nil {
		return 0, fmt.Errorf("heartbeat: %w", err)
	}
	if _, err := sqldb.Exec(ctx, t.c.db, t.c.q["forget"], "", (10 * ttl).Microseconds()); err != nil {
		return 0, fmt.Errorf("heartbeat: forget silent relays: %w", err)
	}
	var alive int64
	if err := sqldb.QueryRow(ctx, t.c.db, t.c.q["alive"], []any{ttl.Microseconds()}, &alive); err != nil {
		return 0, fmt.Errorf("heartbeat: count relays: %w", err)
	}
	return int(alive), nil
}

// RenewLeases implements source.Store.
func (t table) RenewLeases(ctx context.Context, owner string, ttl time.Duration) ([]int, error) {
	if _, err := sqldb.Exec(ctx, t.c.db, t.c.q["renew"], owner, ttl.Microseconds()); err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	held, err := sqldb.QueryInts(ctx, t.c.db, t.c.q["held"], owner, allBuckets)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	return held, nil
}

var allBuckets = func() sqldb.Int64s {
	b := make(sqldb.Int64s, buckets)
	for i := range b {
		b[i] = int64(i)
	}
	return b
}()

// AcquireLeases implements source.Store: it picks expired buckets, takes those still
// expired (another relay may take some first), and returns what it got.
func (t table) AcquireLeases(ctx context.Context, owner string, ttl time.Duration, n int) ([]int, error) {
	if n <= 0 {
		return nil, nil
	}
	picked, err := sqldb.QueryInts(ctx, t.c.db, t.c.q["pick"], n)
	if err != nil || len(picked) == 0 {
		return nil, wrap("acquire leases", err)
	}
	if _, err := sqldb.Exec(ctx, t.c.db, t.c.q["take"], owner, ttl.Microseconds(), sqldb.Ints(picked)); err != nil {
		return nil, fmt.Errorf("acquire leases: %w", err)
	}
	got, err := sqldb.QueryInts(ctx, t.c.db, t.c.q["held"], owner, sqldb.Ints(picked))
	return got, wrap("acquire leases", err)
}

// ReleaseLeases implements source.Store.
func (t table) ReleaseLeases(ctx context.Context, owner string, buckets []int, leaving bool) error {
	var err error
	if buckets == nil {
		_, err = sqldb.Exec(ctx, t.c.db, t.c.q["release_all"], owner)
	} else {
		_, err = sqldb.Exec(ctx, t.c.db, t.c.q["release"], owner, sqldb.Ints(buckets))
	}
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	if leaving {
		if _, err := sqldb.Exec(ctx, t.c.db, t.c.q["forget"], owner, forgetByName.Microseconds()); err != nil {
			return fmt.Errorf("release leases: forget relay: %w", err)
		}
	}
	return nil
}

// Claim implements source.Store.
func (t table) Claim(ctx context.Context, p *source.ClaimParams) (source.Batch, error) {
	if len(p.Buckets) == 0 || p.Limit <= 0 {
		return nil, nil
	}
	b, err := t.c.d.Claim(ctx, t.c.db, p)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return b, nil
}

// Purge implements source.Store: it deletes in chunks so no statement runs long.
func (t table) Purge(ctx context.Context, age time.Duration) (int64, error) {
	var total int64
	for {
		n, err := sqldb.Exec(ctx, t.c.db, t.c.q["purge"], age.Microseconds(), purgeChunk)
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		total += n
		if n < purgeChunk {
			return total, nil
		}
	}
}

// Watermark implements source.Notifier: a number that changes when messages are written.
func (t table) Watermark(ctx context.Context) (int64, error) {
	var w int64
	if err := sqldb.QueryRow(ctx, t.c.db, t.c.q["watermark"], nil, &w); err != nil {
		return 0, fmt.Errorf("watermark: %w", err)
	}
	return w, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
