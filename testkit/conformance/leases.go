package conformance

import (
	"context"
	"testing"
	"time"
)

var leaseTests = []test[relayEnv]{
	{"Leases", testLeases},
	{"Heartbeat", testHeartbeat},
}

func testLeases(t *testing.T, e relayEnv) {
	s := e.s
	ctx := context.Background()
	n := s.Buckets()
	a, err := s.AcquireLeases(ctx, "a", time.Minute, n)
	must(t, err)
	b, err := s.AcquireLeases(ctx, "b", time.Minute, n)
	must(t, err)
	if len(a) != n || len(b) != 0 {
		t.Fatalf("a got %d, b got %d of %d buckets; want all, then none", len(a), len(b), n)
	}
	renewed, err := s.RenewLeases(ctx, "a", time.Minute)
	must(t, err)
	if len(renewed) != n {
		t.Fatalf("renewed %d of %d", len(renewed), n)
	}
	must(t, s.ReleaseLeases(ctx, "a", a[:n/2], false))
	b, err = s.AcquireLeases(ctx, "b", time.Minute, n)
	must(t, err)
	if len(b) != n/2 {
		t.Fatalf("after a released half, b got %d, want %d", len(b), n/2)
	}
	// Expiry: c holds a short lease that lapses; d then takes it over.
	must(t, s.ReleaseLeases(ctx, "b", nil, false))
	c, err := s.AcquireLeases(ctx, "c", time.Second, n)
	must(t, err)
	time.Sleep(1100 * time.Millisecond)
	if r, _ := s.RenewLeases(ctx, "c", time.Minute); len(r) != 0 {
		t.Fatalf("expired leases were renewed: %v", r)
	}
	d, err := s.AcquireLeases(ctx, "d", time.Minute, n)
	must(t, err)
	if len(c) != n/2 || len(d) != n/2 {
		t.Fatalf("c held %d, d took over %d; want %d each", len(c), len(d), n/2)
	}
}

func testHeartbeat(t *testing.T, e relayEnv) {
	s := e.s
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		alive, err := s.Heartbeat(ctx, id, time.Minute)
		must(t, err)
		if alive != i+1 {
			t.Fatalf("after %s's heartbeat alive = %d, want %d", id, alive, i+1)
		}
	}
	must(t, s.ReleaseLeases(ctx, "b", nil, true))
	alive, err := s.Heartbeat(ctx, "a", time.Minute)
	must(t, err)
	if alive != 2 {
		t.Fatalf("after b left alive = %d, want 2", alive)
	}

}
