package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// checkOnce fails unless applied holds each of want's events once and each key's
// events in produce order.
func checkOnce(t *testing.T, got []applied, want []*kgo.Record) {
	t.Helper()
	count := map[string]int{}
	last := map[string]int64{}
	for _, a := range got {
		count[a.EventID]++
		if a.Seq <= last[a.Key] {
			t.Errorf("key %s: seq %d applied after %d", a.Key, a.Seq, last[a.Key])
		}
		last[a.Key] = a.Seq
	}
	for _, r := range want {
		id := string(r.Headers[0].Value)
		if count[id] != 1 {
			t.Errorf("event %s (key %s, seq %s) applied %d times", id, r.Key, r.Value, count[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d events applied, want %d", len(got), len(want))
	}
}

// TestDuplicatesSkipped delivers a quarter of the events twice: each is applied once,
// in order per key, and the second deliveries are counted as duplicates.
func TestDuplicatesSkipped(t *testing.T) {
	eachHarness(t, func(t *testing.T, h *harness) {
		topic := testenv.Topic(t, 4, nil)
		recs, dups := events(topic, 200, 10, 4)
		produce(t, append(recs, dups...)...)
		var o outcomes
		start(t, h.consumer(t, apply, config(topic, &o)))
		waitFor(t, 60*time.Second, "200 handled and 50 duplicates", func() bool {
			return o.get(inbox.Handled) == 200 && o.get(inbox.Duplicate) == 50
		})
		checkOnce(t, h.applied(t), recs)
	})
}

// TestFailures: handler errors are retried up to MaxAttempts, then dead-lettered; a
// permanent error and a panic are dead-lettered too, records without a usable id at
// once without a handler call; the partition goes on; a retry hands a dead event to
// the handler again.
func TestFailures(t *testing.T) {
	eachHarness(t, func(t *testing.T, h *harness) {
		topic := testenv.Topic(t, 1, nil)
		var fixed atomic.Bool
		var flaky atomic.Int32
		var calls atomic.Int32
		handler := func(ctx context.Context, x exec, m *inbox.Message) error {
			calls.Add(1)
			switch string(m.Key) {
			case "fail":
				if !fixed.Load() {
					return errors.New("no stock for sku 42")
				}
			case "permanent":
				return fmt.Errorf("bad payload: %w", outbox.ErrPermanent)
			case "panic":
				panic("nil map")
			case "flaky":
				if flaky.Add(1) < 3 {
					return errors.New("flaky")
				}
			}
			return apply(ctx, x, m)
		}
		noID := &kgo.Record{Topic: topic, Key: []byte("noid"), Value: []byte("5")}
		badID := &kgo.Record{Topic: topic, Key: []byte("badid"), Value: []byte("6"),
			Headers: []kgo.RecordHeader{{Key: outbox.HeaderEventID, Value: []byte("not-a-uuid")}}}
		failing := event(topic, "fail", 1)
		produce(t, failing, event(topic, "permanent", 2), event(topic, "panic", 3), event(topic, "flaky", 4),
			noID, badID, event(topic, "last", 7))
		var o outcomes
		cfg := config(topic, &o)
		start(t, h.consumer(t, handler, cfg))
		ctx := context.Background()
		waitFor(t, 60*time.Second, "5 dead and 2 handled", func() bool { return o.get(inbox.Dead) == 5 && o.get(inbox.Handled) == 2 })
		dead, err := h.store.Dead(ctx, cfg.Group, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]struct {
			attempts int
			err      string
		}{
			"fail": {3, "no stock for sku 42"}, "permanent": {1, "bad payload"}, "panic": {3, "handler panicked: nil map"},
			"noid": {0, "no outbox-event-id header"}, "badid": {0, `malformed outbox-event-id header "not-a-uuid"`},
		}
		for _, d := range dead {
			w, ok := want[string(d.Key)]
			if !ok || d.Attempts != w.attempts || !strings.Contains(d.Error, w.err) {
				t.Errorf("dead %s: attempts %d, error %q; want %d and %q", d.Key, d.Attempts, d.Error, w.attempts, w.err)
			}
			delete(want, string(d.Key))
		}
		if len(want) != 0 {
			t.Errorf("not dead: %v", want)
		}
		if got := calls.Load(); got != 3+1+3+3+1 {
			t.Errorf("handler called %d times, want 11 (none for the records without an id)", got)
		}
		// A retry that fails again puts the event back among the dead, one attempt more;
		// the records without an id are handed over, the operator having asked.
		if n, err := h.store.RetryAll(ctx, cfg.Group); err != nil || n != 5 {
			t.Fatalf("retry all: %d, %v", n, err)
		}
		waitFor(t, 30*time.Second, "3 failed retries and 2 handled", func() bool {
			return o.get(inbox.Dead) == 8 && o.get(inbox.Handled) == 4
		})
		if n, _ := h.store.CountDead(ctx, cfg.Group); n != 3 {
			t.Errorf("%d dead after the retries, want 3", n)
		}
		// Fixed, the event's retry is handled and leaves the dead letters.
		fixed.Store(true)
		dead, _ = h.store.Dead(ctx, cfg.Group, 100)
		for _, d := range dead {
			if string(d.Key) == "fail" {
				if d.Attempts != 4 {
					t.Errorf("fail: %d attempts after a failed retry, want 4", d.Attempts)
				}
				if n, err := h.store.Retry(ctx, cfg.Group, d.ID); err != nil || n != 1 {
					t.Fatalf("retry %s: %d, %v", d.ID, n, err)
				}
			}
		}
		waitFor(t, 30*time.Second, "the retried event handled", func() bool { return o.get(inbox.Handled) == 5 })
		if n, _ := h.store.CountDead(ctx, cfg.Group); n != 2 {
			t.Errorf("%d dead after the retry, want 2", n)
		}
		if n := h.query(t, `SELECT count(*) FROM applied WHERE k = ?`, "fail"); n != 1 {
			t.Errorf("fail applied %d times, want 1", n)
		}
		if n, err := h.store.Retry(ctx, cfg.Group, "no-such-event"); err != nil || n != 0 {
			t.Errorf("retry of an unknown id: %d, %v", n, err)
		}
		if n, err := h.store.PurgeDeadOlderThan(ctx, cfg.Group, time.Hour); err != nil || n != 0 {
			t.Errorf("purge of events dead over an hour: %d, %v; want none", n, err)
		}
		dead, _ = h.store.Dead(ctx, cfg.Group, 100)
		if n, err := h.store.PurgeDead(ctx, cfg.Group, dead[0].ID); err != nil || n != 1 {
			t.Errorf("purge one dead: %d, %v", n, err)
		}
		if n, err := h.store.PurgeDeadOlderThan(ctx, cfg.Group, 0); err != nil || n != 1 {
			t.Errorf("purge the rest: %d, %v", n, err)
		}
	})
}

// TestPurge removes records older than the window, so a later redelivery is handled
// again: what the dedupe window means.
func TestPurge(t *testing.T) {
	eachHarness(t, func(t *testing.T, h *harness) {
		topic := testenv.Topic(t, 1, nil)
		r := event(topic, "k", 1)
		produce(t, r)
		var o outcomes
		stop := start(t, h.consumer(t, apply, config(topic, &o)))
		waitFor(t, 30*time.Second, "handled", func() bool { return o.get(inbox.Handled) == 1 })
		stop()
		ctx := context.Background()
		if n, err := inbox.PurgeRecords(ctx, h.store, time.Hour); err != nil || n != 0 {
			t.Errorf("purge of an hour: %d, %v; want nothing purged", n, err)
		}
		time.Sleep(10 * time.Millisecond)
		if n, err := inbox.PurgeRecords(ctx, h.store, time.Millisecond); err != nil || n != 1 {
			t.Errorf("purge: %d, %v; want 1", n, err)
		}
	})
}

// TestCustomEventID dedupes records not written by go-outbox by a key the user
// chooses; an id over 255 bytes is dead-lettered with that reason.
func TestCustomEventID(t *testing.T) {
	t.Parallel()
	h := newPGX(t)
	topic := testenv.Topic(t, 1, nil)
	rec := func(id string, seq int) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte("k"), Value: fmt.Appendf(nil, "%d", seq),
			Headers: []kgo.RecordHeader{{Key: "message-id", Value: []byte(id)}}}
	}
	produce(t, rec("a", 1), rec("b", 2), rec("a", 3), rec(strings.Repeat("x", 256), 4), rec("c", 5))
	var o outcomes
	cfg := config(topic, &o)
	cfg.EventID = func(m *inbox.Message) (string, error) {
		id, ok := m.Header("message-id")
		if !ok {
			return "", errors.New("no message-id header")
		}
		return id, nil
	}
	start(t, h.consumer(t, apply, cfg))
	waitFor(t, 30*time.Second, "3 handled, 1 duplicate, 1 dead", func() bool {
		return o.get(inbox.Handled) == 3 && o.get(inbox.Duplicate) == 1 && o.get(inbox.Dead) == 1
	})
	dead, err := h.store.Dead(context.Background(), cfg.Group, 10)
	if err != nil || len(dead) != 1 || !strings.Contains(dead[0].Error, "event id of 256 bytes: at most 255") {
		t.Fatalf("dead: %+v, %v", dead, err)
	}
	if got := h.applied(t); len(got) != 3 || got[0].Seq != 1 || got[1].Seq != 2 || got[2].Seq != 5 {
		t.Errorf("applied %+v, want seq 1, 2, 5", got)
	}
}

// TestBatch handles several events of a partition per transaction: duplicates inside
// a batch and across batches are skipped; a batch with a failing event is rolled back
// and its events handled one by one, the failing one dead-lettered, the others once.
func TestBatch(t *testing.T) {
	eachHarness(t, func(t *testing.T, h *harness) {
		topic := testenv.Topic(t, 2, nil)
		recs, dups := events(topic, 300, 7, 10)
		poison := event(topic, "poison", 301)
		produce(t, append(append(recs[:150:150], dups[:5]...), append(append(recs[150:], poison), dups[5:]...)...)...)
		var o outcomes
		cfg := config(topic, &o)
		cfg.BatchSize = 50
		start(t, h.consumer(t, func(ctx context.Context, x exec, m *inbox.Message) error {
			if string(m.Key) == "poison" {
				return errors.New("poison")
			}
			return apply(ctx, x, m)
		}, cfg))
		waitFor(t, 60*time.Second, "300 handled, 30 duplicates, 1 dead", func() bool {
			return o.get(inbox.Handled) == 300 && o.get(inbox.Duplicate) == 30 && o.get(inbox.Dead) == 1
		})
		checkOnce(t, h.applied(t), recs)
		if h.name == "pgx" { // PostgreSQL's now() is the transaction's start: one value per batch
			if n := h.query(t, `SELECT count(DISTINCT handled_at) FROM `+h.schema+`.inbox WHERE consumer_group = ?`, cfg.Group); n < 1 || n > 60 {
				t.Errorf("%d transactions for 301 events in batches of 50", n)
			}
		}
	})
}
