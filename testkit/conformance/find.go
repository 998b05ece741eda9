package conformance

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// sixDead writes six events (keys a a b c d e; topics and types alternating; a header
// on the first) and kills them all: the first three with an unknown topic, the others
// as too large. It returns their ids in write order.
func sixDead[TTx any](t *testing.T, h Harness[TTx], s *outboxstore.Store[TTx]) []string {
	ctx := context.Background()
	ms := msgs(6, func(i int) string { return []string{"a", "a", "b", "c", "d", "e"}[i] })
	for i := range ms {
		ms[i].Topic, ms[i].Type = []string{"conformance", "other"}[i%2], []string{"t1", "t2"}[i%2]
	}
	ms[0].Headers = map[string]string{"h": "<v>"}
	must(t, h.writer(s)(ctx, ms...))
	var ids []string
	settle(t, testenv.Table(t, s), source.ClaimParams{}, func(b source.Batch, r []source.Record) {
		for i, e := range []string{"unknown topic", "Message too large"} {
			_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r[i*3 : i*3+3]), Error: e, MaxAttempts: 1, Permanent: true})
			must(t, err)
		}
		for _, rec := range r {
			ids = append(ids, rec.Message.ID.String())
		}
	})
	return ids
}

// FindDead filters by topic, type, key, error text and time, and pages by Next.
func testFindDead[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	ids := sixDead(t, h, s)
	find := func(q outboxstore.DeadQuery) outboxstore.DeadPage {
		t.Helper()
		p, err := s.Admin().FindDead(ctx, q)
		must(t, err)
		return p
	}
	got := func(p outboxstore.DeadPage) []string {
		var out []string
		for _, e := range p.Events {
			out = append(out, e.ID)
		}
		return out
	}
	if p := find(outboxstore.DeadQuery{}); !slices.Equal(got(p), ids) || p.Next != "" {
		t.Fatalf("FindDead{}: %v next %q; want %v, no next", got(p), p.Next, ids)
	}
	first := find(outboxstore.DeadQuery{Limit: 4})
	second := find(outboxstore.DeadQuery{Limit: 4, After: first.Next})
	if !slices.Equal(got(first), ids[:4]) || first.Next == "" || !slices.Equal(got(second), ids[4:]) || second.Next != "" {
		t.Fatalf("pages of 4: %v (next %q), %v (next %q)", got(first), first.Next, got(second), second.Next)
	}
	hour := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name string
		q    outboxstore.DeadQuery
		want []string
	}{
		{"topic", outboxstore.DeadQuery{Topic: "other"}, []string{ids[1], ids[3], ids[5]}},
		{"type", outboxstore.DeadQuery{Type: "t1"}, []string{ids[0], ids[2], ids[4]}},
		{"key", outboxstore.DeadQuery{Key: "a"}, ids[:2]},
		{"error, any case", outboxstore.DeadQuery{Error: "TOO LARGE"}, ids[3:]},
		{"topic and error", outboxstore.DeadQuery{Topic: "other", Error: "unknown"}, ids[1:2]},
		{"died since an hour from now", outboxstore.DeadQuery{Since: hour}, nil},
		{"died until an hour from now", outboxstore.DeadQuery{Until: hour, Since: time.Now().Add(-time.Hour)}, ids},
		{"no match", outboxstore.DeadQuery{Key: "zz"}, nil},
	} {
		if p := find(c.q); !slices.Equal(got(p), c.want) {
			t.Errorf("%s: %v, want %v", c.name, got(p), c.want)
		}
	}
	for _, q := range []outboxstore.DeadQuery{{After: "page-2"}, {Limit: 5000}, {Limit: -1}} {
		if _, err := s.Admin().FindDead(ctx, q); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("FindDead(%+v): %v, want ErrInvalidConfig", q, err)
		}
	}
}

// Event says where an event is and shows it whole; Retry of a selection requeues its
// dead events in the order they were written, whatever order the ids come in;
// PurgeDeadMatching and RetryMatching act on what a filter selects.
func testRetrySelection[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	ids := sixDead(t, h, s)
	ev, err := s.Admin().Event(ctx, ids[0])
	must(t, err)
	if ev.State != outboxstore.StateDead || ev.Key != "a" || ev.Topic != "conformance" || ev.Type != "t1" ||
		ev.Headers["h"] != "<v>" || string(ev.Payload) != "0" || ev.Attempts != 1 || ev.Error != "unknown topic" ||
		ev.Since.Before(ev.WrittenAt) || time.Since(ev.Since) > time.Minute {
		t.Fatalf("Event(dead): %+v", ev)
	}
	if ev, err := s.Admin().Event(ctx, "0b6d6f7e-3c1a-4d2b-9a8e-2f4c5d6e7f80"); err != nil || ev.State != outboxstore.StateUnknown {
		t.Fatalf("Event(no such id): %+v, %v", ev, err)
	}
	if _, err := s.Admin().Event(ctx, "<script>"); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("Event(not a UUID): %v, want ErrInvalidConfig", err)
	}
	if n, err := s.Admin().Retry(ctx, ids[1], "0b6d6f7e-3c1a-4d2b-9a8e-2f4c5d6e7f80", ids[0]); err != nil || n != 2 {
		t.Fatalf("Retry(two dead and one unknown) = %d, %v; want 2", n, err)
	}
	if got := payloads(claim(t, testenv.Table(t, s), source.ClaimParams{})); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("after Retry of key a's two events: claimable %v, want [0 1]", got)
	}
	if ev, _ := s.Admin().Event(ctx, ids[0]); ev.State != outboxstore.StatePending || ev.Attempts != 0 {
		t.Fatalf("Event after Retry: %+v, want pending with no attempts", ev)
	}
	if n, err := s.Admin().PurgeDeadMatching(ctx, outboxstore.DeadQuery{Error: "too large", Limit: 1}); err != nil || n != 3 {
		t.Fatalf("PurgeDeadMatching(too large) = %d, %v; want 3", n, err)
	}
	if n, err := s.Admin().RetryMatching(ctx, outboxstore.DeadQuery{Topic: "conformance"}); err != nil || n != 1 {
		t.Fatalf("RetryMatching(topic) = %d, %v; want 1", n, err)
	}
	if p, err := s.Admin().FindDead(ctx, outboxstore.DeadQuery{}); err != nil || len(p.Events) != 0 {
		t.Fatalf("dead after the purge and retries: %+v, %v", p, err)
	}
}
