package relay

import (
	"context"
	"sync"
	"time"
)

// A relay that keeps up with its writers would, left alone, claim as soon as anything
// commits: every worker a batch of one or two events, each paying a claim, a
// settlement, a produce request and the database's share of each. Two things make it
// claim less often and more at a time, while a backlog still gets every worker:
//
//   - Solo: while the workers' batches come back small and quick (in under twice
//     BatchWait), worker 0 claims every bucket alone and the others rest; its first
//     full or slow batch sends them all back to their shares. Slow batches (MariaDB
//     fsyncs each settlement, and its batches grow slower with their size) are better
//     overlapped than waited for. Each bucket is locked by the batch that claims it
//     (held until the batch ends, skipped by the others), as between relays, so a key
//     still has one batch at a time whichever worker claims it. Not with ExactlyOnce,
//     whose transactions are fenced per worker and bucket.
//   - Wait: a worker whose batch was not full claims again no sooner than BatchWait
//     after its last claim began. Meanwhile nothing polls the watermark for it: a
//     worker that found events claims again without being woken (solo, it skips the
//     peek too: ClaimParams.Busy), and the watcher polls only while a worker idles.
type pace struct {
	batchSize int
	quick     time.Duration // a batch that took longer is slow
	mu        sync.Mutex
	solo      bool
	fanOut    chan struct{} // closed when solo ends
	last      []int         // each worker's last batch size, while not solo
}

func newPace(workers, batchSize int, quick time.Duration) *pace {
	p := &pace{batchSize: batchSize, quick: quick, last: make([]int, workers), fanOut: make(chan struct{})}
	for i := range p.last {
		p.last[i] = batchSize // no worker has seen a small batch yet
	}
	return p
}

// share reports whether worker w claims, and if so whether every bucket (solo); a
// worker that does not claim gets a channel closed when it should.
func (p *pace) share(w int) (claims, all bool, rest <-chan struct{}) {
	if p == nil {
		return true, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.solo:
		return true, false, nil
	case w == 0:
		return true, true, nil
	default:
		return false, false, p.fanOut
	}
}

// claimed notes worker w's batch of n, which took took (solo: over every bucket).
func (p *pace) claimed(w, n int, took time.Duration, solo bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	slow := took >= p.quick
	if slow && !solo {
		n = p.batchSize // a slow batch counts as full: no solo while batches are slow
	}
	switch {
	case solo && (n >= p.batchSize || slow) && p.solo: // a backlog, or slow batches: every worker
		p.solo = false
		close(p.fanOut)
		for i := range p.last {
			p.last[i] = p.batchSize
		}
	case !solo && !p.solo:
		p.last[w] = n
		sum := 0
		for _, v := range p.last {
			sum += v
		}
		if sum < p.batchSize/2 { // what all of them found fits in one batch
			p.solo, p.fanOut = true, make(chan struct{})
		}
	}
}

// wait holds a worker whose batch was not full until BatchWait after its claim began,
// or ctx ends.
func (r *Relay) wait(ctx context.Context, began time.Time) {
	if left := r.cfg.BatchWait - time.Since(began); left > 0 {
		sleep(ctx, left)
	}
}
