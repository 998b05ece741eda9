package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/ledger"
)

// bigLimits lets the bench write any payload size it is asked for.
var bigLimits = outbox.Limits{MaxPayloadBytes: math.MaxInt32, MaxKeyBytes: 1 << 20}

// topic creates a fresh 8-partition topic for one scenario; drop deletes it.
func (e *env) topic(ctx context.Context, scenario string) (name string, drop func(), err error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name = "outbox-bench-" + scenario + "-" + hex.EncodeToString(b)
	adm := kadm.NewClient(e.client)
	resp, err := adm.CreateTopic(ctx, 8, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return "", nil, fmt.Errorf("create topic %s: %w", name, err)
	}
	return name, func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, name)
	}, nil
}

// prefill inserts n events for topic server-side, keys round-robin over cfg.Keys, each
// payload "key/n/" padded to PayloadBytes, and returns the ledger of what it wrote.
func (e *env) prefill(ctx context.Context, topic string, n int) (ledger.Ledger, error) {
	const chunk = 100_000
	keys, pad := e.cfg.Keys, max(e.cfg.PayloadBytes-16, 0)
	q := `INSERT INTO ` + e.store.Names().Qualified() + ` (id, topic, key, event_type, payload, occurred_at)
SELECT gen_random_uuid(), $1, convert_to('k' || (g % $2), 'UTF8'), 'bench',
       convert_to('k' || (g % $2) || '/' || (g / $2) || '/', 'UTF8') || decode(repeat('78', $3), 'hex'), now()
FROM generate_series($4::bigint, $5::bigint - 1) g`
	for start := 0; start < n; start += chunk {
		if _, err := e.pool.Exec(ctx, q, topic, keys, pad, start, min(start+chunk, n)); err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
	}
	if _, err := e.pool.Exec(ctx, `ANALYZE `+e.store.Names().Qualified()); err != nil {
		return nil, err
	}
	l := ledger.Ledger{}
	for k := 0; k < min(keys, n); k++ {
		l[fmt.Sprint("k", k)] = (n - k + keys - 1) / keys
	}
	return l, nil
}

// drained reports whether nothing is pending, by the claim index (cheap on any backlog).
func (e *env) drained(ctx context.Context) (bool, error) {
	var pending bool
	err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+e.store.Names().Qualified()+` WHERE status = 'pending')`).Scan(&pending)
	return !pending, err
}

// verify reads the whole topic and checks it against l: nothing lost or reordered.
func (e *env) verify(ctx context.Context, topic string, l ledger.Ledger) (ledger.Report, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		return ledger.Report{}, err
	}
	defer cl.Close()
	want := l.Total()
	var recs []*kgo.Record
	deadline := time.Now().Add(5*time.Minute + time.Duration(want/10_000)*time.Second)
	for time.Now().Before(deadline) {
		wait := time.Until(deadline)
		if len(recs) >= want {
			wait = 2 * time.Second // then stop once nothing more arrives: late duplicates count too
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(pctx)
		cancel()
		before := len(recs)
		fs.EachRecord(func(r *kgo.Record) {
			r.Headers = nil // only key and value are checked; keep memory down
			recs = append(recs, r)
		})
		if len(recs) >= want && len(recs) == before || ctx.Err() != nil {
			break
		}
	}
	rep := ledger.Verify(l, recs)
	if !rep.OK() {
		return rep, fmt.Errorf("events lost or reordered: %v", rep)
	}
	return rep, nil
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
