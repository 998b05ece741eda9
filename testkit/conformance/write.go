package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func writeTests[TTx any]() []test[Harness[TTx]] {
	return []test[Harness[TTx]]{
		{"WriteCommitsWithTheTransaction", testWriteAtomic[TTx]},
		{"WriteAllOrNothing", testWriteAllOrNothing[TTx]},
		{"WriteNilAndFinishedTransactions", testWriteTxErrors[TTx]},
		{"WriteRoundTrip", testWriteRoundTrip[TTx]},
		{"WriteLimits", testWriteLimits[TTx]},
		{"WriteTraceContext", testWriteTraceContext[TTx]},
		{"SettleBesideOpenWriter", testSettleBesideOpenWriter[TTx]},
	}
}

var errRollback = errors.New("the domain change failed")

func pending[TTx any](t *testing.T, s *outboxstore.Store[TTx]) int64 {
	t.Helper()
	st, err := s.Admin().Status(context.Background())
	must(t, err)
	return st.Pending + st.InFlight
}

// A rolled-back transaction leaves no event; a committed one stores them all.
func testWriteAtomic[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	err := h.InTx(ctx, func(tx TTx) error {
		must(t, s.Write(ctx, tx, msgs(2, func(int) string { return "k" })...))
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx: %v", err)
	}
	if n := pending(t, s); n != 0 {
		t.Fatalf("%d events after rollback", n)
	}
	must(t, h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, msgs(1000, func(int) string { return "k" })...) }))
	if n := pending(t, s); n != 1000 {
		t.Fatalf("%d events after committing 1000", n)
	}
}

// One invalid message fails the call before anything is written, naming the message.
func testWriteAllOrNothing[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	bad := append(msgs(2, func(int) string { return "k" }), outbox.Message{Topic: "bad topic!"})
	var werr error
	_ = h.InTx(ctx, func(tx TTx) error {
		werr = s.Write(ctx, tx, bad...)
		return nil // commit: whatever the call wrote would stay
	})
	if !errors.Is(werr, outbox.ErrInvalidMessage) || !strings.Contains(werr.Error(), "message 2") {
		t.Fatalf("err = %v, want ErrInvalidMessage naming message 2", werr)
	}
	if n := pending(t, s); n != 0 {
		t.Fatalf("a rejected call wrote %d events", n)
	}
}

// A nil transaction is ErrNoDB; a finished one is ErrTxDone.
func testWriteTxErrors[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	var zero TTx
	if err := s.Write(ctx, zero, msgs(1, func(int) string { return "" })...); !errors.Is(err, outbox.ErrNoDB) {
		t.Fatalf("nil tx: %v, want ErrNoDB", err)
	}
	var done TTx
	must(t, h.InTx(ctx, func(tx TTx) error { done = tx; return nil }))
	if err := s.Write(ctx, done, msgs(1, func(int) string { return "" })...); !errors.Is(err, outbox.ErrTxDone) {
		t.Fatalf("committed tx: %v, want ErrTxDone", err)
	}
}

// Every field of a message comes back from a claim as it was written; a nil key stays
// nil, an empty key or payload empty (not nil: a record without a value is a tombstone).
func testWriteRoundTrip[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	want := roundTripMessages(time.FixedZone("X", 3600))
	must(t, h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, want...) }))
	recs := claim(t, testenv.Table(t, s), source.ClaimParams{})
	if len(recs) != 3 {
		t.Fatalf("claimed %d of 3", len(recs))
	}
	checkRoundTrip(t, want, recs)
}

// roundTripMessages are the messages both modes' round trips write: every field set,
// then the defaults, then an empty key and payload.
func roundTripMessages(zone *time.Location) []outbox.Message {
	return []outbox.Message{
		{ID: uuid.Must(uuid.NewV7()), Topic: "orders.v1", Key: []byte("o-1\x00\xff"), Type: "order.placed",
			AggregateType: "order", AggregateID: "o-1", Payload: []byte(`{"total":1999}`),
			Headers:    map[string]string{"traceparent": "00-abc-def-01", "ü": "ÿ"},
			OccurredAt: time.Date(2026, 11, 29, 10, 11, 12, 345678000, zone)},
		{Topic: "orders.v1"},
		{Topic: "orders.v1", Key: []byte{}, Payload: []byte{}},
	}
}

// checkRoundTrip compares what came back for roundTripMessages with what was written.
func checkRoundTrip(t *testing.T, want []outbox.Message, recs []source.Record) {
	t.Helper()
	got, w := recs[0].Message, want[0]
	if got.ID != w.ID || got.Topic != w.Topic || !bytes.Equal(got.Key, w.Key) || got.Type != w.Type ||
		got.AggregateType != w.AggregateType || got.AggregateID != w.AggregateID || !bytes.Equal(got.Payload, w.Payload) ||
		!maps.Equal(got.Headers, w.Headers) || !got.OccurredAt.Equal(w.OccurredAt) || recs[0].DecodeErr != nil {
		t.Fatalf("round trip:\n got %+v (%v)\nwant %+v", got, recs[0].DecodeErr, w)
	}
	if age := time.Since(recs[0].WrittenAt); recs[0].WrittenAt.IsZero() || age < -time.Minute || age > time.Minute {
		t.Fatalf("WrittenAt %v: want about now, by the database's clock", recs[0].WrittenAt)
	}
	second := recs[1].Message
	if second.Key != nil || second.Payload == nil || len(second.Payload) != 0 || second.ID.Version() != 7 || second.OccurredAt.IsZero() {
		t.Fatalf("defaults: key %v (want nil), payload %v (want empty), id %s, occurred %v", second.Key, second.Payload, second.ID, second.OccurredAt)
	}
	if third := recs[2].Message; third.Key == nil || len(third.Key) != 0 || third.Payload == nil || len(third.Payload) != 0 {
		t.Fatalf("empty key and payload came back as %v and %v", third.Key, third.Payload)
	}
}

// The store's Limits are enforced before anything is written.
func testWriteLimits[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{Limits: outbox.Limits{MaxKeyBytes: 8, MaxPayloadBytes: 16}})
	ctx := context.Background()
	for _, m := range []outbox.Message{
		{Topic: "t", Key: []byte("123456789")},
		{Topic: "t", Payload: make([]byte, 17)},
	} {
		err := h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, m) })
		if !errors.Is(err, outbox.ErrInvalidMessage) || !strings.Contains(err.Error(), "Limits.Max") {
			t.Errorf("over the limits: %v, want ErrInvalidMessage naming the limit", err)
		}
	}
	must(t, h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, outbox.Message{Topic: "t", Key: []byte("12345678")}) }))
}

// A writer's transaction left open with an event in it does not hold up a batch's
// settlement of other events (a MySQL delete that scanned the table would wait for the
// writer's uncommitted row); with one writer at a time, the settlement waits for it and
// then succeeds. The writer's event is claimable once it commits.
func testSettleBesideOpenWriter[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	must(t, h.writer(s)(ctx, msgs(5, func(i int) string { return fmt.Sprint("k", i) })...))
	// A small table, as a relay that keeps up leaves it: where a MySQL optimizer would
	// rather scan the table than look the batch's rows up.
	b := open(t, testenv.Table(t, s), source.ClaimParams{Limit: 3})
	wrote, release, done := make(chan error, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- h.InTx(ctx, func(tx TTx) error {
			err := s.Write(ctx, tx, outbox.Message{Topic: "t", Key: []byte("held")})
			wrote <- err
			<-release
			return err
		})
	}()
	must(t, <-wrote)
	settled := make(chan error, 1)
	start := time.Now()
	go func() {
		if err := b.MarkPublished(ctx, seqs(b.Records()), false); err != nil {
			settled <- err
			return
		}
		settled <- b.Commit(ctx)
	}()
	if h.OneWriter {
		time.Sleep(300 * time.Millisecond)
		close(release)
		must(t, <-settled)
	} else {
		select {
		case err := <-settled:
			must(t, err)
		case <-time.After(5 * time.Second):
			close(release)
			t.Fatalf("a batch's settlement waited %s on a writer's open transaction", time.Since(start))
		}
		close(release)
	}
	must(t, <-done)
	if got := claim(t, testenv.Table(t, s), source.ClaimParams{}); len(got) != 3 || string(got[2].Message.Key) != "held" {
		t.Fatalf("after both committed: claimable %d, want the 2 left and the writer's one event last", len(got))
	}
}
