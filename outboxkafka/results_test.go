package outboxkafka

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// Outcomes arrive on other goroutines while records are still being handed over; the
// count must neither race nor reach zero early.
func TestResultsConcurrentCallbacks(t *testing.T) {
	t.Parallel()
	for round := 0; round < 200; round++ {
		const n = 64
		res := &results{errs: make([]error, n), done: make(chan struct{}), pending: 1}
		boom := errors.New("boom")
		var wg sync.WaitGroup
		for i := range n {
			res.add()
			wg.Add(1)
			go func() { // as franz-go's promise goroutine would
				defer wg.Done()
				var err error
				if i%3 == 0 {
					err = boom
				}
				res.set(i, &kgo.Record{}, err)
			}()
		}
		res.release()
		errs := res.wait(context.Background())
		for i, err := range errs {
			if (i%3 == 0) != (err != nil) {
				t.Fatalf("round %d: outcome %d = %v", round, i, err)
			}
		}
		wg.Wait()
	}
}

// Outcomes missing at the deadline are reported failed, and late ones are ignored.
func TestResultsDeadline(t *testing.T) {
	t.Parallel()
	acks := make([]outbox.Ack, 2)
	res := &results{errs: make([]error, 2), acks: acks, done: make(chan struct{}), pending: 1}
	res.add()
	res.add()
	res.set(0, &kgo.Record{Partition: 3, Offset: 7}, nil)
	res.release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	errs := res.wait(ctx)
	if errs[0] != nil || !errors.Is(errs[1], context.DeadlineExceeded) || acks[0] != (outbox.Ack{Partition: 3, Offset: 7}) {
		t.Fatalf("errs = %v, acks = %v", errs, acks)
	}
	res.set(1, &kgo.Record{Partition: 1, Offset: 9}, nil) // too late: must not change what was returned
	if errs[1] == nil || acks[1] != (outbox.Ack{}) {
		t.Fatal("a late outcome overwrote the reported one")
	}
}
