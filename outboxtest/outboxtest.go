// Package outboxtest is the conformance suite for relay.Store implementations: every
// store in this module runs it against a real database, and a third-party store can run
// it too.
package outboxtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
)

// WriteFunc commits msgs to the store's outbox, as an application's transaction would.
type WriteFunc func(ctx context.Context, msgs ...outbox.Message) error

// Harness sets up the store under test.
type Harness struct {
	// New returns a store over a fresh, migrated, empty outbox and a way to write to it.
	New func(t *testing.T) (relay.Store, WriteFunc)
}

// RunStoreTests runs the conformance suite.
func RunStoreTests(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, relay.Store, WriteFunc)
	}{
		{"ClaimInCommitOrder", testClaimOrder},
		{"ClaimOnlyLeasedBuckets", testClaimBuckets},
		{"ConcurrentClaimsDisjoint", testConcurrentClaims},
		{"ClaimedKeysStayInOrder", testClaimedKeys},
		{"MarkPublished", testMarkPublished},
		{"RetryBlocksOnlyItsKey", testRetryBlocksKey},
		{"DeadLetterAfterMaxAttempts", testDeadLetter},
		{"TransientNeverDead", testTransientNeverDead},
		{"Leases", testLeases},
		{"Heartbeat", testHeartbeat},
		{"Purge", testPurge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store, write := h.New(t)
			tt.fn(t, store, write)
		})
	}
}

func msgs(n int, key func(i int) string) []outbox.Message {
	out := make([]outbox.Message, n)
	for i := range out {
		out[i] = outbox.Message{Topic: "conformance", Type: "test", Payload: []byte(fmt.Sprint(i))}
		if k := key(i); k != "" {
			out[i].Key = []byte(k)
		}
	}
	return out
}

func all(s relay.Store) []int {
	b := make([]int, s.Buckets())
	for i := range b {
		b[i] = i
	}
	return b
}

func claim(t *testing.T, s relay.Store, p relay.ClaimParams) []relay.Record {
	t.Helper()
	if p.Owner == "" {
		p.Owner = "test"
	}
	if p.Buckets == nil {
		p.Buckets = all(s)
	}
	if p.Limit == 0 {
		p.Limit = 1000
	}
	if p.TTL == 0 {
		p.TTL = time.Minute
	}
	recs, err := s.Claim(context.Background(), &p)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return recs
}

func payloads(recs []relay.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Message.Payload)
	}
	return out
}

func seqs(recs []relay.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testClaimOrder(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	for i := 0; i < 5; i++ { // five commits, each of four messages over two keys and none
		must(t, write(ctx, msgs(4, func(j int) string { return []string{"a", "b", "", "a"}[j] })...))
	}
	recs := claim(t, s, relay.ClaimParams{})
	if len(recs) != 20 {
		t.Fatalf("claimed %d, want 20", len(recs))
	}
	if !slices.IsSortedFunc(recs, func(a, b relay.Record) int { return int(a.Seq - b.Seq) }) {
		t.Fatalf("claim not in seq order: %v", seqs(recs))
	}
	got := recs[0].Message
	if got.ID.Version() != 7 || got.Topic != "conformance" || string(got.Key) != "a" || got.Type != "test" || got.OccurredAt.IsZero() {
		t.Fatalf("claimed message lost fields: %+v", got)
	}
	if recs[2].Message.Key != nil {
		t.Fatalf("nil key came back as %q", recs[2].Message.Key)
	}
	if again := claim(t, s, relay.ClaimParams{Limit: 3}); len(again) != 3 || again[0].Seq != recs[0].Seq {
		t.Fatalf("unsettled claimed rows must stay claimable in order, got %v", seqs(again))
	}
}

func testClaimBuckets(t *testing.T, s relay.Store, write WriteFunc) {
	must(t, write(context.Background(), msgs(200, func(i int) string { return fmt.Sprint("k", i%50) })...))
	half := s.Buckets() / 2
	lo := claim(t, s, relay.ClaimParams{Buckets: all(s)[:half]})
	hi := claim(t, s, relay.ClaimParams{Buckets: all(s)[half:]})
	if len(lo) == 0 || len(hi) == 0 || len(lo)+len(hi) != 200 {
		t.Fatalf("claims by bucket halves: %d + %d, want both non-empty, 200 in all", len(lo), len(hi))
	}
	keyHalf := map[string]string{}
	for name, recs := range map[string][]relay.Record{"lo": lo, "hi": hi} {
		for _, r := range recs {
			if h, ok := keyHalf[string(r.Message.Key)]; ok && h != name {
				t.Fatalf("key %s in both bucket halves", r.Message.Key)
			}
			keyHalf[string(r.Message.Key)] = name
		}
	}
}

func testConcurrentClaims(t *testing.T, s relay.Store, write WriteFunc) {
	must(t, write(context.Background(), msgs(500, func(i int) string { return "" })...))
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := s.Claim(context.Background(), &relay.ClaimParams{Owner: fmt.Sprint("w", w), Buckets: all(s), Limit: 200, TTL: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				seen[r.Seq]++
			}
		}()
	}
	wg.Wait()
	for seq, n := range seen {
		if n > 1 {
			t.Fatalf("seq %d claimed by %d concurrent claims", seq, n)
		}
	}
}

// testClaimedKeys: while one relay holds a claim (say it stalled past its bucket lease),
// another must not publish that key's later messages ahead of it.
func testClaimedKeys(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(i int) string { return []string{"k", "k", "other"}[i] })...))
	a := claim(t, s, relay.ClaimParams{Owner: "a", Limit: 1})
	if got := payloads(claim(t, s, relay.ClaimParams{Owner: "b"})); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("b claimed %v while a holds k's first message, want only [2]", got)
	}
	must(t, s.Release(ctx, seqs(a)))
	b := claim(t, s, relay.ClaimParams{Owner: "b"})
	if got := payloads(b); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("after a released, b claimed %v, want [0 1 2]", got)
	}
	must(t, s.Release(ctx, seqs(b)))
	// A claim that outlived its TTL no longer holds the key.
	short := claim(t, s, relay.ClaimParams{Owner: "c", Limit: 1, TTL: time.Second / 2})
	time.Sleep(600 * time.Millisecond)
	if got := claim(t, s, relay.ClaimParams{Owner: "d", Limit: 1}); len(got) != 1 || got[0].Seq != short[0].Seq {
		t.Fatalf("an expired claim still blocked its row: got %v", payloads(got))
	}
}

func testMarkPublished(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(6, func(i int) string { return "k" })...))
	recs := claim(t, s, relay.ClaimParams{})
	must(t, s.MarkPublished(ctx, seqs(recs[:3]), false))
	must(t, s.MarkPublished(ctx, seqs(recs[3:5]), true))
	left := claim(t, s, relay.ClaimParams{})
	if len(left) != 1 || left[0].Seq != recs[5].Seq {
		t.Fatalf("after marking 5 of 6 published, claimable: %v", seqs(left))
	}
	n, err := s.Purge(ctx, 0)
	must(t, err)
	if n != 2 {
		t.Fatalf("purge removed %d kept rows, want 2", n)
	}
}

func testRetryBlocksKey(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(4, func(i int) string { return []string{"x", "x", "y", ""}[i] })...))
	recs := claim(t, s, relay.ClaimParams{})
	_, err := s.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(recs[:1]), Error: "boom", MaxAttempts: 3, Backoff: time.Hour, MaxBackoff: time.Hour})
	must(t, err)
	must(t, s.Release(ctx, seqs(recs[1:])))
	got := payloads(claim(t, s, relay.ClaimParams{}))
	if !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("with x's first message waiting for a retry, claimed %v, want [2 3] (x held, y and keyless go on)", got)
	}
	_, err = s.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(recs[:1]), Error: "boom", MaxAttempts: 3, Backoff: 0, MaxBackoff: 0})
	must(t, err)
	again := claim(t, s, relay.ClaimParams{})
	if got := payloads(again); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Fatalf("once the retry is due, claimed %v, want all four in order", got)
	}
	if again[0].Attempts != 2 {
		t.Fatalf("attempts = %d after two failures", again[0].Attempts)
	}
}

func testDeadLetter(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(2, func(i int) string { return "k" })...))
	recs := claim(t, s, relay.ClaimParams{})
	fail := &relay.FailParams{Seqs: seqs(recs[:1]), Error: "too large", MaxAttempts: 2, Permanent: true}
	for i, wantDead := range []int{0, 1} {
		dead, err := s.MarkFailed(ctx, fail)
		must(t, err)
		if dead != wantDead {
			t.Fatalf("failure %d: dead = %d, want %d", i+1, dead, wantDead)
		}
	}
	must(t, s.Release(ctx, seqs(recs[1:])))
	if got := claim(t, s, relay.ClaimParams{HoldDeadKeys: true}); len(got) != 0 {
		t.Fatalf("HoldDeadKeys: claimed %v behind a dead message", payloads(got))
	}
	if got := payloads(claim(t, s, relay.ClaimParams{})); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("the key's later message must proceed past the dead one, claimed %v", got)
	}
}

func testTransientNeverDead(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(1, func(int) string { return "k" })...))
	recs := claim(t, s, relay.ClaimParams{})
	for i := 0; i < 5; i++ {
		dead, err := s.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(recs), Error: "broker down", MaxAttempts: 1})
		must(t, err)
		if dead != 0 {
			t.Fatalf("a transient failure dead-lettered a message")
		}
	}
	if got := claim(t, s, relay.ClaimParams{}); len(got) != 1 || got[0].Attempts != 5 {
		t.Fatalf("after 5 transient failures with no backoff: %+v", got)
	}
}

func testLeases(t *testing.T, s relay.Store, _ WriteFunc) {
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

func testHeartbeat(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(2, func(int) string { return "k" })...))
	claim(t, s, relay.ClaimParams{Owner: "b"})
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
	if got := claim(t, s, relay.ClaimParams{Owner: "a"}); len(got) != 2 {
		t.Fatalf("b left with messages claimed; a could claim %d of 2", len(got))
	}
}

func testPurge(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(int) string { return "" })...))
	must(t, s.MarkPublished(ctx, seqs(claim(t, s, relay.ClaimParams{})), true))
	if n, err := s.Purge(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("purge of rows younger than an hour removed %d (%v)", n, err)
	}
	if n, err := s.Purge(ctx, 0); err != nil || n != 3 {
		t.Fatalf("purge removed %d (%v), want 3", n, err)
	}
}
