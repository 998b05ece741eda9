package conformance

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
)

// The WAL-mode area runs where the harness gives a ConnString (PostgreSQL): events are
// written as logical messages and read back through the store's own Stream.
func walTests[TTx any]() []test[Harness[TTx]] {
	return []test[Harness[TTx]]{
		{"WALWriteRoundTrip", testWALRoundTrip[TTx]},
		{"WALRollbackEmitsNothing", testWALRollback[TTx]},
		{"WALRetryEmitsAgain", testWALRetry[TTx]},
	}
}

// walStore is a migrated WAL-mode store with a slot and publication of its own, and a
// reader attached to its stream; the slot goes when the test ends.
func (h Harness[TTx]) walStore(t *testing.T) (*outboxstore.Store[TTx], source.StreamReader) {
	t.Helper()
	name := "conformance_" + uuid.NewString()[:8]
	cfg := &outboxstore.Config{Mode: outboxstore.WALMode, Slot: name, Publication: name}
	s := h.migrated(t, cfg)
	t.Cleanup(func() {
		ctx := context.Background()
		// The reader's server process may take a moment to let go of the slot.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if h.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, name) == nil {
				break
			}
		}
		_ = h.Exec(ctx, `DROP PUBLICATION IF EXISTS `+name)
	})
	st := h.stream(t, s, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rd, err := st.Attach(ctx, "conformance")
	must(t, err)
	t.Cleanup(rd.Close) // before the slot is dropped: cleanups run last first
	return s, rd
}

// stream is s's stream as a relay reads it. A store over database/sql has none and says
// so; a store over pgx, as a relay over that database would have, reads it instead.
func (h Harness[TTx]) stream(t *testing.T, s *outboxstore.Store[TTx], cfg *outboxstore.Config) source.Stream {
	t.Helper()
	o, err := s.RelaySource()
	if err == nil {
		return o.Stream
	}
	if !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), "outboxpgx") {
		t.Fatalf("RelaySource without a stream: %v, want ErrInvalidConfig naming outboxpgx", err)
	}
	pool, err := pgxpool.New(context.Background(), h.ConnString)
	must(t, err)
	t.Cleanup(pool.Close)
	ps, err := outboxstore.New(outboxpgx.New(pool), cfg)
	must(t, err)
	o, err = ps.RelaySource()
	must(t, err)
	return o.Stream
}

// next reads n records from rd, failing after 10 s.
func next(t *testing.T, rd source.StreamReader, n int) []source.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []source.Record
	for len(recs) < n {
		got, _, err := rd.Next(ctx, n-len(recs))
		if err != nil {
			t.Fatalf("read %d of %d records: %v", len(recs), n, err)
		}
		recs = append(recs, got...)
	}
	return recs
}

// Every field survives the envelope; defaults are applied as in table mode (a nil
// payload is sent empty), and WrittenAt is the commit time.
func testWALRoundTrip[TTx any](t *testing.T, h Harness[TTx]) {
	s, rd := h.walStore(t)
	ctx := context.Background()
	want := roundTripMessages(time.UTC)
	must(t, h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, want...) }))
	checkRoundTrip(t, want, next(t, rd, 3))
}

// A rolled-back transaction's events never reach the stream.
func testWALRollback[TTx any](t *testing.T, h Harness[TTx]) {
	s, rd := h.walStore(t)
	ctx := context.Background()
	err := h.InTx(ctx, func(tx TTx) error {
		must(t, s.Write(ctx, tx, msgs(2, func(int) string { return "rolled back" })...))
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx: %v", err)
	}
	must(t, h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, msgs(1, func(int) string { return "kept" })...) }))
	if recs := next(t, rd, 1); string(recs[0].Message.Key) != "kept" {
		t.Fatalf("first record after a rollback: %+v", recs[0].Message)
	}
}

// Dead letters are stored in the table; Retry takes them out and emits them again,
// marked as redelivered, in the order they were written, whatever order the ids come in.
func testWALRetry[TTx any](t *testing.T, h Harness[TTx]) {
	s, rd := h.walStore(t)
	ctx := context.Background()
	must(t, h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, msgs(4, func(int) string { return "k" })...) }))
	recs := next(t, rd, 4)
	must(t, rd.DeadLetter(ctx, recs[1:], []string{"first reason", "second reason", "third reason"}))
	must(t, rd.DeadLetter(ctx, recs[1:2], []string{"stored once"})) // a replay after a crash
	dead, err := s.Admin().Dead(ctx, 10)
	must(t, err)
	if len(dead) != 3 || dead[0].Error != "first reason" || dead[0].ID != recs[1].Message.ID.String() {
		t.Fatalf("dead letters: %+v", dead)
	}
	if n, err := s.Admin().Retry(ctx, dead[2].ID, dead[0].ID); err != nil || n != 2 {
		t.Fatalf("retry of two: %d, %v", n, err)
	}
	if n, err := s.Admin().RetryAll(ctx); err != nil || n != 1 {
		t.Fatalf("retry of the rest: %d, %v", n, err)
	}
	again := next(t, rd, 3)
	for i, want := range []source.Record{recs[1], recs[3], recs[2]} {
		r := again[i]
		if r.Message.ID != want.Message.ID || !r.Redelivered || !bytes.Equal(r.Message.Payload, want.Message.Payload) {
			t.Fatalf("retried record %d: %+v (redelivered %v), want %+v", i, r.Message, r.Redelivered, want.Message)
		}
	}
	if dead, _ := s.Admin().Dead(ctx, 10); len(dead) != 0 {
		t.Fatalf("dead letters left after retry: %+v", dead)
	}
}
