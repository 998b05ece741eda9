package relay_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// forgetfulStore loses the first batch's MarkPublished, as when a relay dies (or loses
// the database) after Kafka acknowledged a batch but before it recorded that.
type forgetfulStore struct {
	source.Store
	lost     atomic.Bool
	lostSize atomic.Int64 // how many messages the lost batch marked published
}

// RelaySource makes the store a relay's source.
func (s *forgetfulStore) RelaySource() (source.Outbox, error) { return source.Outbox{Table: s}, nil }

func (s *forgetfulStore) Claim(ctx context.Context, p *source.ClaimParams) (source.Batch, error) {
	b, err := s.Store.Claim(ctx, p)
	if b == nil || err != nil {
		return b, err
	}
	return &forgetfulBatch{Batch: b, s: s}, nil
}

type forgetfulBatch struct {
	source.Batch
	s *forgetfulStore
}

func (b *forgetfulBatch) MarkPublished(ctx context.Context, seqs []int64, keep bool) error {
	if b.s.lost.CompareAndSwap(false, true) {
		b.s.lostSize.Store(int64(len(seqs)))
		return errors.New("test: connection lost before marking the batch published")
	}
	return b.Batch.MarkPublished(ctx, seqs, keep)
}

// The duplicate bound: a batch acknowledged by Kafka but not recorded is sent again,
// once, whole; nothing beyond it, and the key order of first arrivals holds.
func TestUnsettledBatchDuplicatedOnce(t *testing.T) { testenv.EachDB(t, testUnsettledBatch) }

func testUnsettledBatch(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	for i := 0; i < 10; i++ {
		e.commit(t, keys(30)...)
	}
	const batch = 50
	store := &forgetfulStore{Store: testenv.Table(t, e.Store)}
	start(t, store, publisher(t), relay.Config{BatchSize: batch, Backoff: 10 * time.Millisecond})
	e.waitDrained(t, 30*time.Second)
	recs := testenv.ConsumeAll(t, e.topic, 300, 2*time.Second, 30*time.Second)
	rep := testenv.Verify(e.ledger, recs)
	lost := int(store.lostSize.Load())
	t.Logf("one unrecorded batch of %d (BatchSize %d): %v", lost, batch, rep)
	if lost == 0 || lost > batch {
		t.Fatalf("the lost batch held %d messages; want 1..%d", lost, batch)
	}
	if rep.Lost != 0 || rep.OrderViolations != 0 || rep.Duplicates != lost {
		t.Fatalf("want 0 lost, 0 order violations and exactly the lost batch (%d) duplicated: %v", lost, rep)
	}
}
