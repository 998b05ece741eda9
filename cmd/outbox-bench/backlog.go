package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/ledger"
)

// bigLimits lets the bench write any payload size it is asked for.
var bigLimits = outbox.Limits{MaxPayloadBytes: math.MaxInt32}

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

// prefill writes n events for topic through the store's own Write, keys round-robin
// over cfg.Keys, each payload "key/n/" padded to PayloadBytes, 1000 per transaction on
// Writers connections (each key on one of them, so its events commit in order), and
// returns the ledger of what it wrote.
func (e *env) prefill(ctx context.Context, topic string, n int) (ledger.Ledger, error) {
	keys, pad := e.cfg.Keys, bytes.Repeat([]byte("x"), max(e.cfg.PayloadBytes-16, 0))
	writers := min(e.cfg.Writers, 4)
	ledgers := make([]ledger.Ledger, writers)
	g, gctx := errgroup.WithContext(ctx)
	for w := range writers {
		l := ledger.Ledger{}
		ledgers[w] = l
		g.Go(func() error {
			var msgs []outbox.Message
			for i := 0; i < n; i++ {
				key := fmt.Sprint("k", i%keys)
				if (i%keys)%writers != w { // keys stay with one writer
					continue
				}
				payload := append(append(l.Add(key), '/'), pad...)
				if e.codec != nil {
					var err error
					if payload, err = e.codec.encode(gctx, topic, payload[:len(payload)-len(pad)], string(pad)); err != nil {
						return fmt.Errorf("prefill: encode %s: %w", e.codec.name, err)
					}
				}
				msgs = append(msgs, outbox.Message{Topic: topic, Key: []byte(key), Type: "bench", Payload: payload})
				if len(msgs) == 1000 {
					if err := e.db.InTx(gctx, func(tx dburl.Tx) error { return tx.Write(gctx, msgs...) }); err != nil {
						return fmt.Errorf("prefill: %w", err)
					}
					msgs = msgs[:0]
				}
			}
			if len(msgs) == 0 {
				return nil
			}
			return e.db.InTx(gctx, func(tx dburl.Tx) error { return tx.Write(gctx, msgs...) })
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if e.mode == outboxstore.WALMode {
		// A heartbeat after the last event: the relay confirms it as soon as it has
		// published everything before it.
		err := e.db.QueryRow(ctx, `SELECT pg_logical_emit_message(false, $1, '')::text`,
			[]any{benchSchema + ".outbox:heartbeat"}, &e.walMark)
		return mergeLedgers(ledgers), err
	}
	if e.db.Admin.Database() == outboxstore.PostgreSQL {
		if err := e.db.Exec(ctx, `ANALYZE `+e.db.Admin.Table()); err != nil {
			return nil, err
		}
	}
	return mergeLedgers(ledgers), nil
}

// drained reports whether nothing is pending, by the claim index (cheap on any backlog);
// in WAL mode, whether the slot confirmed the mark that prefill left after its events.
func (e *env) drained(ctx context.Context) (bool, error) {
	if e.mode == outboxstore.WALMode {
		var done bool
		err := e.db.QueryRow(ctx, `SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1`,
			[]any{benchSchema, e.walMark}, &done)
		return done, err
	}
	var pending bool
	err := e.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+e.db.Admin.Table()+` WHERE status = 'pending')`, nil, &pending)
	return !pending, err
}

// verify reads the whole topic and checks it against l: nothing lost or reordered, and
// for exactly-once relays (read_committed) nothing twice.
func (e *env) verify(ctx context.Context, topic string, l ledger.Ledger) (ledger.Report, error) {
	isolation := kgo.ReadUncommitted()
	if e.readCommitted {
		isolation = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20), kgo.FetchIsolationLevel(isolation))
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
		var decodeErr error
		fs.EachRecord(func(r *kgo.Record) {
			r.Headers = nil // only key and value are checked; keep memory down
			if e.codec != nil && decodeErr == nil {
				r.Value, decodeErr = e.codec.token(ctx, r.Value)
			}
			recs = append(recs, r)
		})
		if decodeErr != nil {
			return ledger.Report{}, fmt.Errorf("decode %s: %w", e.codec.name, decodeErr)
		}
		if len(recs) >= want && len(recs) == before || ctx.Err() != nil {
			break
		}
	}
	rep := ledger.Verify(l, recs)
	if !rep.OK() {
		return rep, fmt.Errorf("events lost or reordered: %v", rep)
	}
	if e.readCommitted && rep.Duplicates > 0 {
		return rep, fmt.Errorf("exactly-once relays, yet a read_committed reader got duplicates: %v", rep)
	}
	return rep, nil
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
