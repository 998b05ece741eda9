package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func adminTests[TTx any]() []test[Harness[TTx]] {
	return []test[Harness[TTx]]{
		{"StatusCounts", testStatus[TTx]},
		{"StatusInFlight", testStatusInFlight[TTx]},
		{"BacklogBounded", testBacklog[TTx]},
		{"DeadRetryPurge", testDeadRetryPurge[TTx]},
		{"DeadBeforeDeadAt", testDeadBeforeDeadAt[TTx]},
		{"FindDead", testFindDead[TTx]},
		{"RetrySelection", testRetrySelection[TTx]},
		{"AdminLeases", testAdminLeases[TTx]},
		{"Topics", testTopics[TTx]},
	}
}

// Status counts pending, dead and kept published events, and the oldest pending age.
func testStatus[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	must(t, h.writer(s)(ctx, msgs(6, func(i int) string { return string(rune('a' + i)) })...))
	time.Sleep(20 * time.Millisecond)
	settle(t, testenv.Table(t, s), source.ClaimParams{Limit: 3}, func(b source.Batch, r []source.Record) {
		must(t, b.MarkPublished(ctx, seqs(r[:2]), true))
		_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r[2:]), Error: "too large", MaxAttempts: 1, Permanent: true})
		must(t, err)
	})
	st, err := s.Admin().Status(ctx)
	must(t, err)
	if st.Pending != 3 || st.InFlight != 0 || st.Dead != 1 || st.Published != 2 || st.OldestPendingAge < 20*time.Millisecond {
		t.Fatalf("status %+v; want 3 pending, 1 dead, 2 published, oldest at least 20ms old", st)
	}
}

// The events of an open batch are in flight where the database reports it, and pending
// otherwise; never lost from the counts.
func testStatusInFlight[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	must(t, h.writer(s)(ctx, msgs(10, func(i int) string { return string(rune('a' + i)) })...))
	b := open(t, testenv.Table(t, s), source.ClaimParams{Limit: 4})
	st, err := s.Admin().Status(ctx)
	must(t, err)
	want := outboxstore.Status{Pending: 10}
	if h.InFlight {
		want = outboxstore.Status{Pending: 6, InFlight: 4}
	}
	if st.Pending != want.Pending || st.InFlight != want.InFlight {
		t.Fatalf("with a batch of 4 open: %+v, want %d pending and %d in flight", st, want.Pending, want.InFlight)
	}
	must(t, b.Rollback(ctx))
	if st, _ := s.Admin().Status(ctx); st.InFlight != 0 || st.Pending != 10 {
		t.Fatalf("after the batch ended: %+v", st)
	}
}

// Dead lists dead events with their last error and when they died; Retry requeues one,
// RetryAll all; PurgeDead deletes one, PurgeDeadOlderThan those dead longer than its age.
func testDeadRetryPurge[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	must(t, h.writer(s)(ctx, msgs(3, func(i int) string { return []string{"a", "b", "c"}[i] })...))
	settle(t, testenv.Table(t, s), source.ClaimParams{}, func(b source.Batch, r []source.Record) {
		dead, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r), Error: "unknown topic", MaxAttempts: 1, Permanent: true})
		must(t, err)
		if dead != 3 {
			t.Fatalf("dead = %d, want 3", dead)
		}
	})
	dead, err := s.Admin().Dead(ctx, 10)
	must(t, err)
	if len(dead) != 3 || dead[0].Key != "a" || dead[0].Attempts != 1 || dead[0].Topic != "conformance" ||
		!strings.Contains(dead[0].Error, "unknown topic") || time.Since(dead[0].WrittenAt) > time.Minute ||
		dead[0].DeadAt.Before(dead[0].WrittenAt) || time.Since(dead[0].DeadAt) > time.Minute {
		t.Fatalf("dead: %+v", dead)
	}
	if two, _ := s.Admin().Dead(ctx, 2); len(two) != 2 {
		t.Fatalf("Dead(limit 2) returned %d", len(two))
	}
	id := dead[0].ID
	if n, err := s.Admin().Retry(ctx, id); err != nil || n != 1 {
		t.Fatalf("Retry(one) = %d, %v", n, err)
	}
	if n, err := s.Admin().Retry(ctx, id); err != nil || n != 0 {
		t.Fatalf("Retry of an event no longer dead = %d, %v", n, err)
	}
	if got := claim(t, testenv.Table(t, s), source.ClaimParams{}); len(got) != 1 || got[0].Attempts != 0 {
		t.Fatalf("after Retry(one): claimable %v, want the one event with no attempts", payloads(got))
	}
	if _, err := s.Admin().Retry(ctx, "not-a-uuid"); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("Retry of a malformed id: %v, want ErrInvalidConfig", err)
	}
	if _, err := s.Admin().PurgeDead(ctx, "not-a-uuid"); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("PurgeDead of a malformed id: %v, want ErrInvalidConfig", err)
	}
	if n, err := s.Admin().PurgeDeadOlderThan(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("PurgeDeadOlderThan(1h) removed %d young events (%v)", n, err)
	}
	if n, err := s.Admin().PurgeDead(ctx, dead[1].ID); err != nil || n != 1 {
		t.Fatalf("PurgeDead(one) = %d, %v; want 1", n, err)
	}
	if n, err := s.Admin().PurgeDeadOlderThan(ctx, 0); err != nil || n != 1 {
		t.Fatalf("PurgeDeadOlderThan(0) = %d, %v; want 1", n, err)
	}
	if n, err := s.Admin().RetryAll(ctx); err != nil || n != 0 {
		t.Fatalf("RetryAll with none dead = %d, %v", n, err)
	}
}

// Backlog agrees with Status, stops its counts at the limit, and finds the oldest
// pending event.
func testBacklog[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	if b, err := s.Admin().Backlog(ctx, 100); err != nil || b != (outboxstore.Backlog{}) {
		t.Fatalf("empty outbox: %+v, %v", b, err)
	}
	must(t, h.writer(s)(ctx, msgs(6, func(i int) string { return string(rune('a' + i)) })...))
	time.Sleep(50 * time.Millisecond)
	must(t, h.writer(s)(ctx, msgs(4, func(i int) string { return string(rune('k' + i)) })...))
	settle(t, testenv.Table(t, s), source.ClaimParams{Limit: 1}, func(b source.Batch, r []source.Record) {
		_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r), Error: "too large", MaxAttempts: 1, Permanent: true})
		must(t, err)
	})
	b, err := s.Admin().Backlog(ctx, 100)
	must(t, err)
	if b.Pending != 9 || b.InFlight != 0 || b.Dead != 1 || b.OldestPendingAge < 50*time.Millisecond || b.OldestPendingAge > time.Minute {
		t.Fatalf("backlog %+v; want 9 pending, 1 dead, the oldest at least 50ms old", b)
	}
	if b, err := s.Admin().Backlog(ctx, 3); err != nil || b.Pending != 3 || b.Dead != 1 {
		t.Fatalf("backlog limited to 3: %+v, %v; want 3 pending", b, err)
	}
}

// Events that died before the dead_at column was added (it is NULL for them) are listed
// and purged by the time they were written.
func testDeadBeforeDeadAt[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	must(t, h.writer(s)(ctx, msgs(2, func(i int) string { return []string{"a", "b"}[i] })...))
	settle(t, testenv.Table(t, s), source.ClaimParams{}, func(b source.Batch, r []source.Record) {
		_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r), Error: "unknown topic", MaxAttempts: 1, Permanent: true})
		must(t, err)
	})
	must(t, h.Exec(ctx, `UPDATE `+s.Admin().Table()+` SET dead_at = NULL WHERE status = 'dead'`))
	dead, err := s.Admin().Dead(ctx, 10)
	must(t, err)
	if len(dead) != 2 || !dead[0].DeadAt.Equal(dead[0].WrittenAt) || dead[0].DeadAt.IsZero() {
		t.Fatalf("dead events without dead_at: %+v; want their written time as DeadAt", dead)
	}
	if n, err := s.Admin().PurgeDeadOlderThan(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("PurgeDeadOlderThan(1h) of events written just now: %d, %v", n, err)
	}
	if n, err := s.Admin().PurgeDeadOlderThan(ctx, 0); err != nil || n != 2 {
		t.Fatalf("PurgeDeadOlderThan(0): %d, %v; want 2", n, err)
	}
}

// Leases shows each relay with its heartbeat's age and its buckets, a relay whose
// heartbeat is gone but whose leases live, and the buckets nobody holds.
func testAdminLeases[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	tbl := testenv.Table(t, s)
	n := tbl.Buckets()
	for _, id := range []string{"a", "b"} {
		_, err := tbl.Heartbeat(ctx, id, time.Minute)
		must(t, err)
	}
	a, err := tbl.AcquireLeases(ctx, "a", time.Minute, n/2)
	must(t, err)
	b, err := tbl.AcquireLeases(ctx, "b", time.Minute, 10)
	must(t, err)
	c, err := tbl.AcquireLeases(ctx, "c", time.Minute, 1) // no heartbeat
	must(t, err)
	l, err := s.Admin().Leases(ctx)
	must(t, err)
	if len(l.Relays) != 3 || l.Relays[0].ID != "a" || len(l.Relays[0].Buckets) != len(a) || l.Relays[1].ID != "b" ||
		len(l.Relays[1].Buckets) != len(b) || l.Relays[2].ID != "c" || len(l.Relays[2].Buckets) != len(c) ||
		l.Relays[2].HeartbeatAge >= 0 || l.Relays[0].HeartbeatAge < 0 || l.Relays[0].Version == "" || l.Relays[0].HeartbeatAge > time.Minute ||
		len(l.Unowned) != n-len(a)-len(b)-len(c) {
		t.Fatalf("leases: %+v; want a with %d buckets, b with %d, c (no heartbeat) with %d, %d unowned", l, len(a), len(b), len(c), n-len(a)-len(b)-len(c))
	}
}

// Topics counts each topic's pending and dead events and its oldest pending age, and
// leaves out a topic whose events were all published.
func testTopics[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.migrated(t, &outboxstore.Config{})
	ctx := context.Background()
	ms := msgs(6, func(i int) string { return string(rune('a' + i)) })
	for i := range ms {
		ms[i].Topic = []string{"alpha", "alpha", "alpha", "beta", "beta", "gamma"}[i]
	}
	must(t, h.writer(s)(ctx, ms...))
	time.Sleep(20 * time.Millisecond)
	settle(t, testenv.Table(t, s), source.ClaimParams{}, func(b source.Batch, r []source.Record) {
		_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r[:1]), Error: "too large", MaxAttempts: 1, Permanent: true})
		must(t, err)
		must(t, b.MarkPublished(ctx, seqs(r[3:4]), true))
		must(t, b.MarkPublished(ctx, seqs(r[5:6]), false))
	})
	got, err := s.Admin().Topics(ctx)
	must(t, err)
	if len(got) != 2 || got[0].Topic != "alpha" || got[0].Pending != 2 || got[0].Dead != 1 || got[0].OldestPendingAge < 20*time.Millisecond ||
		got[1].Topic != "beta" || got[1].Pending != 1 || got[1].Dead != 0 || got[1].OldestPendingAge > time.Minute {
		t.Fatalf("topics: %+v; want alpha 2 pending 1 dead, beta 1 pending, no gamma", got)
	}
}
