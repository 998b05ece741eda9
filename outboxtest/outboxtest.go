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
		{"OpenBatchHoldsItsBuckets", testBucketsExclusive},
		{"StalledBatchEnds", testStalledBatchEnds},
		{"RollbackUndoesMarks", testRollbackUndoes},
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

// open claims a batch (all buckets, limit 1000 unless p says otherwise) and ends it,
// rolled back, when the test ends unless the test ended it first.
func open(t *testing.T, s relay.Store, p relay.ClaimParams) relay.Batch {
	t.Helper()
	if p.Buckets == nil {
		p.Buckets = all(s)
	}
	if p.Limit == 0 {
		p.Limit = 1000
	}
	b, err := s.Claim(context.Background(), &p)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if b != nil {
		t.Cleanup(func() { _ = b.Rollback(context.Background()) })
	}
	return b
}

// claim returns what a batch would carry, without changing anything.
func claim(t *testing.T, s relay.Store, p relay.ClaimParams) []relay.Record {
	t.Helper()
	b := open(t, s, p)
	if b == nil {
		return nil
	}
	recs := b.Records()
	must(t, b.Rollback(context.Background()))
	return recs
}

// settle claims a batch and applies fn to it, then commits.
func settle(t *testing.T, s relay.Store, p relay.ClaimParams, fn func(b relay.Batch, recs []relay.Record)) {
	t.Helper()
	b := open(t, s, p)
	if b == nil {
		t.Fatal("nothing to claim")
	}
	fn(b, b.Records())
	must(t, b.Commit(context.Background()))
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
		t.Fatalf("a rolled-back batch must leave its messages claimable in order, got %v", seqs(again))
	}
}

func testClaimBuckets(t *testing.T, s relay.Store, write WriteFunc) {
	must(t, write(context.Background(), msgs(200, func(i int) string { return fmt.Sprint("k", i%50) })...))
	half := s.Buckets() / 2
	lo := open(t, s, relay.ClaimParams{Buckets: all(s)[:half]})
	hi := open(t, s, relay.ClaimParams{Buckets: all(s)[half:]}) // open at once: disjoint buckets do not wait
	if lo == nil || hi == nil || len(lo.Records())+len(hi.Records()) != 200 {
		t.Fatalf("batches over bucket halves: %v, %v; want both non-empty, 200 in all", lo, hi)
	}
	keyHalf := map[string]string{}
	for name, b := range map[string]relay.Batch{"lo": lo, "hi": hi} {
		for _, r := range b.Records() {
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
		mu      sync.Mutex
		seen    = map[int64]int{}
		claimed sync.WaitGroup // every claim is in, while all batches are still open
		wg      sync.WaitGroup
	)
	claimed.Add(4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each asks for a different half of the buckets, so they overlap pairwise.
			buckets := all(s)[w%2*s.Buckets()/4 : w%2*s.Buckets()/4+s.Buckets()/2]
			b, err := s.Claim(context.Background(), &relay.ClaimParams{Buckets: buckets, Limit: 200})
			claimed.Done()
			if err != nil {
				t.Error(err)
			}
			if b == nil {
				return
			}
			mu.Lock()
			for _, r := range b.Records() {
				seen[r.Seq]++
			}
			mu.Unlock()
			claimed.Wait()
			_ = b.Rollback(context.Background())
		}()
	}
	wg.Wait()
	if len(seen) == 0 {
		t.Fatal("no concurrent claim got anything")
	}
	for seq, n := range seen {
		if n > 1 {
			t.Fatalf("seq %d carried by %d open batches at once", seq, n)
		}
	}
}

// testBucketsExclusive: while a batch is open (its relay may be stalled past its lease),
// no other batch carries its buckets, so no key can be overtaken.
func testBucketsExclusive(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(i int) string { return []string{"k", "k", "other"}[i] })...))
	a := open(t, s, relay.ClaimParams{Limit: 1})
	if a == nil || len(a.Records()) != 1 {
		t.Fatal("first batch claimed nothing")
	}
	if b := open(t, s, relay.ClaimParams{}); b != nil {
		t.Fatalf("a second batch carried %v while the first holds all buckets", payloads(b.Records()))
	}
	must(t, a.Rollback(ctx))
	if got := payloads(claim(t, s, relay.ClaimParams{})); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("after the first batch ended, claimed %v, want [0 1 2]", got)
	}
}

// testStalledBatchEnds: a batch idle past IdleTimeout is ended by the store, freeing its
// buckets, and can no longer commit.
func testStalledBatchEnds(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(2, func(int) string { return "k" })...))
	stalled := open(t, s, relay.ClaimParams{Limit: 1, IdleTimeout: 300 * time.Millisecond})
	time.Sleep(time.Second)
	if got := payloads(claim(t, s, relay.ClaimParams{})); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("after the stalled batch timed out, claimed %v, want [0 1]", got)
	}
	if err := stalled.MarkPublished(ctx, seqs(stalled.Records()), false); err == nil {
		if err := stalled.Commit(ctx); err == nil {
			t.Fatal("a batch ended for idling committed anyway")
		}
	}
	if got := claim(t, s, relay.ClaimParams{}); len(got) != 2 {
		t.Fatalf("the stalled batch's marks took effect: %d left", len(got))
	}
}

func testRollbackUndoes(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(int) string { return "k" })...))
	b := open(t, s, relay.ClaimParams{})
	must(t, b.MarkPublished(ctx, seqs(b.Records()[:2]), false))
	_, err := b.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(b.Records()[2:]), Error: "x", MaxAttempts: 1, Permanent: true})
	must(t, err)
	must(t, b.Rollback(ctx))
	if got := claim(t, s, relay.ClaimParams{}); len(got) != 3 || got[2].Attempts != 0 {
		t.Fatalf("after rollback: %d claimable, attempts %v; want all 3 untouched", len(got), got)
	}
}

func testMarkPublished(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(6, func(i int) string { return "k" })...))
	var recs []relay.Record
	settle(t, s, relay.ClaimParams{}, func(b relay.Batch, r []relay.Record) {
		recs = r
		must(t, b.MarkPublished(ctx, seqs(r[:3]), false))
		must(t, b.MarkPublished(ctx, seqs(r[3:5]), true))
	})
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
	settle(t, s, relay.ClaimParams{Limit: 1}, func(b relay.Batch, r []relay.Record) {
		_, err := b.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(r), Error: "boom", MaxAttempts: 3, Backoff: time.Second, MaxBackoff: time.Second})
		must(t, err)
	})
	got := payloads(claim(t, s, relay.ClaimParams{}))
	if !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("with x's first message waiting for a retry, claimed %v, want [2 3] (x held, y and keyless go on)", got)
	}
	time.Sleep(1100 * time.Millisecond) // the retry is due after 0.5-1s (jittered)
	again := claim(t, s, relay.ClaimParams{})
	if got := payloads(again); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Fatalf("once the retry is due, claimed %v, want all four in order", got)
	}
	if again[0].Attempts != 1 {
		t.Fatalf("attempts = %d after one failure", again[0].Attempts)
	}
}

func testDeadLetter(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(2, func(i int) string { return "k" })...))
	for i, wantDead := range []int{0, 1} {
		settle(t, s, relay.ClaimParams{Limit: 1}, func(b relay.Batch, r []relay.Record) {
			dead, err := b.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(r), Error: "too large", MaxAttempts: 2, Permanent: true})
			must(t, err)
			if dead != wantDead || r[0].Message.Payload[0] != '0' {
				t.Fatalf("failure %d of message %s: dead = %d, want %d", i+1, r[0].Message.Payload, dead, wantDead)
			}
		})
	}
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
	for i := 0; i < 5; i++ {
		settle(t, s, relay.ClaimParams{}, func(b relay.Batch, r []relay.Record) {
			dead, err := b.MarkFailed(ctx, &relay.FailParams{Seqs: seqs(r), Error: "broker down", MaxAttempts: 1})
			must(t, err)
			if dead != 0 {
				t.Fatalf("a transient failure dead-lettered a message")
			}
		})
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

func testHeartbeat(t *testing.T, s relay.Store, _ WriteFunc) {
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

func testPurge(t *testing.T, s relay.Store, write WriteFunc) {
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(int) string { return "" })...))
	settle(t, s, relay.ClaimParams{}, func(b relay.Batch, r []relay.Record) { must(t, b.MarkPublished(ctx, seqs(r), true)) })
	if n, err := s.Purge(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("purge of rows younger than an hour removed %d (%v)", n, err)
	}
	if n, err := s.Purge(ctx, 0); err != nil || n != 3 {
		t.Fatalf("purge removed %d (%v), want 3", n, err)
	}
}
