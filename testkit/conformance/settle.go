package conformance

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/relay/source"
)

var settleTests = []test[relayEnv]{
	{"MarkPublished", testMarkPublished},
	{"RetryBlocksOnlyItsKey", testRetryBlocksKey},
	{"DeadLetterAfterMaxAttempts", testDeadLetter},
	{"TransientNeverDead", testTransientNeverDead},
	{"Purge", testPurge},
}

func testMarkPublished(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(6, func(i int) string { return "k" })...))
	var recs []source.Record
	settle(t, s, source.ClaimParams{}, func(b source.Batch, r []source.Record) {
		recs = r
		must(t, b.MarkPublished(ctx, seqs(r[:3]), false))
		must(t, b.MarkPublished(ctx, seqs(r[3:5]), true))
	})
	left := claim(t, s, source.ClaimParams{})
	if len(left) != 1 || left[0].Seq != recs[5].Seq {
		t.Fatalf("after marking 5 of 6 published, claimable: %v", seqs(left))
	}
	n, err := s.Purge(ctx, 0)
	must(t, err)
	if n != 2 {
		t.Fatalf("purge removed %d kept rows, want 2", n)
	}
}

func testRetryBlocksKey(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(4, func(i int) string { return []string{"x", "x", "y", ""}[i] })...))
	settle(t, s, source.ClaimParams{Limit: 1}, func(b source.Batch, r []source.Record) {
		_, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r), Error: "boom", MaxAttempts: 3, Backoff: time.Second, MaxBackoff: time.Second})
		must(t, err)
	})
	got := payloads(claim(t, s, source.ClaimParams{}))
	if !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("with x's first message waiting for a retry, claimed %v, want [2 3] (x held, y and keyless go on)", got)
	}
	time.Sleep(1100 * time.Millisecond) // the retry is due after 0.5-1s (jittered)
	again := claim(t, s, source.ClaimParams{})
	if got := payloads(again); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Fatalf("once the retry is due, claimed %v, want all four in order", got)
	}
	if again[0].Attempts != 1 {
		t.Fatalf("attempts = %d after one failure", again[0].Attempts)
	}
}

func testDeadLetter(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(2, func(i int) string { return "k" })...))
	for i, wantDead := range []int{0, 1} {
		settle(t, s, source.ClaimParams{Limit: 1}, func(b source.Batch, r []source.Record) {
			dead, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r), Error: "too large", MaxAttempts: 2, Permanent: true})
			must(t, err)
			if dead != wantDead || r[0].Message.Payload[0] != '0' {
				t.Fatalf("failure %d of message %s: dead = %d, want %d", i+1, r[0].Message.Payload, dead, wantDead)
			}
		})
	}
	if got := claim(t, s, source.ClaimParams{HoldDeadKeys: true}); len(got) != 0 {
		t.Fatalf("HoldDeadKeys: claimed %v behind a dead message", payloads(got))
	}
	if got := payloads(claim(t, s, source.ClaimParams{})); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("the key's later message must proceed past the dead one, claimed %v", got)
	}
}

func testTransientNeverDead(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(1, func(int) string { return "k" })...))
	for i := 0; i < 5; i++ {
		settle(t, s, source.ClaimParams{}, func(b source.Batch, r []source.Record) {
			dead, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs(r), Error: "broker down", MaxAttempts: 1})
			must(t, err)
			if dead != 0 {
				t.Fatalf("a transient failure dead-lettered a message")
			}
		})
	}
	if got := claim(t, s, source.ClaimParams{}); len(got) != 1 || got[0].Attempts != 5 {
		t.Fatalf("after 5 transient failures with no backoff: %+v", got)
	}
}

func testPurge(t *testing.T, e relayEnv) {
	s, write := e.s, e.write
	ctx := context.Background()
	must(t, write(ctx, msgs(3, func(int) string { return "" })...))
	settle(t, s, source.ClaimParams{}, func(b source.Batch, r []source.Record) { must(t, b.MarkPublished(ctx, seqs(r), true)) })
	if n, err := s.Purge(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("purge of rows younger than an hour removed %d (%v)", n, err)
	}
	if n, err := s.Purge(ctx, 0); err != nil || n != 3 {
		t.Fatalf("purge removed %d (%v), want 3", n, err)
	}
}
