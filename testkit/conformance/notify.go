package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func notifyTests[TTx any]() []test[Harness[TTx]] {
	return []test[Harness[TTx]]{
		{"WatermarkMoves", testWatermark[TTx]},
		{"ListenerWakes", testListener[TTx]},
	}
}

// The watermark changes when a message is written.
func testWatermark[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	n := notifier(t, s)
	ctx := context.Background()
	before, err := n.Watermark(ctx)
	must(t, err)
	must(t, h.writer(s)(ctx, msgs(1, func(int) string { return "k" })...))
	after, err := n.Watermark(ctx)
	must(t, err)
	if after == before {
		t.Fatalf("watermark stayed %d across a write", before)
	}
}

// A waiting listener returns soon after a commit; one whose watermark is stale returns
// at once. A store that cannot listen says so by returning no listener.
func testListener[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	n := notifier(t, s)
	ctx := context.Background()
	_, err := testenv.Table(t, s).Heartbeat(ctx, "listener", time.Minute) // writers notify live relays that wait
	must(t, err)
	l, err := n.Listen(ctx, "listener")
	must(t, err)
	if !h.Listens {
		if l != nil {
			l.Close()
			t.Fatal("the store returned a listener, but the harness says it cannot listen")
		}
		return
	}
	if l == nil {
		t.Fatal("no listener, but the harness says the store listens")
	}
	defer l.Close()
	w, err := n.Watermark(ctx)
	must(t, err)
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = h.writer(s)(ctx, msgs(1, func(int) string { return "k" })...)
	}()
	start := time.Now()
	must(t, l.Wait(ctx, w, 10*time.Second))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("woken after %s: the write's notification did not arrive", d)
	}
	start = time.Now()
	must(t, l.Wait(ctx, w, 10*time.Second)) // w is stale now
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a stale watermark waited %s", d)
	}
}

// notifier is s's table as the relay's watcher uses it.
func notifier[TTx any](t *testing.T, s *outboxstore.Store[TTx]) source.Notifier {
	t.Helper()
	n, ok := testenv.Table(t, s).(source.Notifier)
	if !ok {
		t.Fatal("the store's table is no source.Notifier")
	}
	return n
}
