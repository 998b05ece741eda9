package conformance

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/relay/source"
)

var claimTests = []test[relayEnv]{
	{"ClaimInCommitOrder", testClaimOrder},
	{"ClaimOnlyLeasedBuckets", testClaimBuckets},
	{"ConcurrentClaimsDisjoint", testConcurrentClaims},
	{"OpenBatchHoldsItsBuckets", testBucketsExclusive},
	{"StalledBatchEnds", testStalledBatchEnds},
	{"RollbackUndoesMarks", testRollbackUndoes},
}

func all(s source.Store) []int {
	b := make([]int, s.Buckets())
	for i := range b {
		b[i] = i
	}
	return b
}

// open claims a batch (all buckets, limit 1000 unless p says otherwise) and ends it,
// rolled back, when the test ends unless the test ended it first.
func open(t *testing.T, s source.Store, p source.ClaimParams) source.Batch {
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
func claim(t *testing.T, s source.Store, p source.ClaimParams) []source.Record {
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
func settle(t *testing.T, s source.Store, p source.ClaimParams, fn func(b source.Batch, recs []source.Record)) {
	t.Helper()
	b := open(t, s, p)
	if b == nil {
		t.Fatal("nothing to claim")
	}
	fn(b, b.Records())
	must(t, b.Commit(context.Background()))
}

func payloads(recs []source.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Message.Payload)
	}
	return out
}

func seqs(recs []source.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func testClaimOrder(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	for i := 0; i < 5; i++ { // five commits, each of four messages over two keys and none
		must(t, write(ctx, msgs(4, func(j int) string { return []string{"a", "b", "", "a"}[j] })...))
	}
	recs := claim(t, s, source.ClaimParams{})
	if len(recs) != 20 {
		t.Fatalf("claimed %d, want 20", len(recs))
	}
	if !slices.IsSortedFunc(recs, func(a, b source.Record) int { return int(a.Seq - b.Seq) }) {
		t.Fatalf("claim not in seq order: %v", seqs(recs))
	}
	got := recs[0].Message
	if got.ID.Version() != 7 || got.Topic != "conformance" || string(got.Key) != "a" || got.Type != "test" || got.OccurredAt.IsZero() {
		t.Fatalf("claimed message lost fields: %+v", got)
	}
	if recs[2].Message.Key != nil {
		t.Fatalf("nil key came back as %q", recs[2].Message.Key)
	}
	if again := claim(t, s, source.ClaimParams{Limit: 3}); len(again) != 3 || again[0].Seq != recs[0].Seq {
		t.Fatalf("a rolled-back batch must leave its messages claimable in order, got %v", seqs(again))
	}
}

func testClaimBuckets(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	must(t, write(context.Background(), msgs(200, func(i int) string { return fmt.Sprint("k", i%50) })...))
	half := s.Buckets() / 2
	lo := open(t, s, source.ClaimParams{Buckets: all(s)[:half]})
	hi := open(t, s, source.ClaimParams{Buckets: all(s)[half:]}) // open at once: disjoint buckets do not wait
	if lo == nil || hi == nil || len(lo.Records())+len(hi.Records()) != 200 {
		t.Fatalf("batches over bucket halves: %v, %v; want both non-empty, 200 in all", lo, hi)
	}
	keyHalf := map[string]string{}
	for name, b := range map[string]source.Batch{"lo": lo, "hi": hi} {
		for _, r := range b.Records() {
			if h, ok := keyHalf[string(r.Message.Key)]; ok && h != name {
				t.Fatalf("key %s in both bucket halves", r.Message.Key)
			}
			keyHalf[string(r.Message.Key)] = name
		}
	}
}

func testConcurrentClaims(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
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
			b, err := s.Claim(context.Background(), &source.ClaimParams{Buckets: buckets, Limit: 200})
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
func testBucketsExclusive(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(i int) string { return []string{"k", "k", "other"}[i] })...))
	a := open(t, s, source.ClaimParams{Limit: 1})
	if a == nil || len(a.Records()) != 1 {
		t.Fatal("first batch claimed nothing")
	}
	if b := open(t, s, source.ClaimParams{}); b != nil {
		t.Fatalf("a second batch carried %v while the first holds all buckets", payloads(b.Records()))
	}
	must(t, a.Rollback(ctx))
	if got := payloads(claim(t, s, source.ClaimParams{})); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("after the first batch ended, claimed %v, want [0 1 2]", got)
	}
}

// testStalledBatchEnds: a batch idle past IdleTimeout is ended by the store, freeing its
// buckets, and can no longer commit.
func testStalledBatchEnds(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(2, func(int) string { return "k" })...))
	// MySQL counts the idle timeout in whole seconds: one second, and twice that to wait.
	stalled := open(t, s, source.ClaimParams{Limit: 1, IdleTimeout: time.Second})
	time.Sleep(2 * time.Second)
	if got := payloads(claim(t, s, source.ClaimParams{})); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("after the stalled batch timed out, claimed %v, want [0 1]", got)
	}
	if err := stalled.MarkPublished(ctx, seqs(stalled.Records()), false); err == nil {
		if err := stalled.Commit(ctx); err == nil {
			t.Fatal("a batch ended for idling committed anyway")
		}
	}
	if got := claim(t, s, source.ClaimParams{}); len(got) != 2 {
		t.Fatalf("the stalled batch's marks took effect: %d left", len(got))
	}
}

func testRollbackUndoes(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(int) string { return "k" })...))
	b := open(t, s, source.ClaimParams{})
	must(t, b.MarkPublished(ctx, seqs(b.Records()[:2]), false))
	_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(b.Records()[2:]), Error: "x", MaxAttempts: 1, Permanent: true})
	must(t, err)
	must(t, b.Rollback(ctx))
	if got := claim(t, s, source.ClaimParams{}); len(got) != 3 || got[2].Attempts != 0 {
		t.Fatalf("after rollback: %d claimable, attempts %v; want all 3 untouched", len(got), got)
	}
}
