package inbox

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partition is one assigned partition: the records fetched for it wait in queue, and
// one goroutine hands them to the handler in offset order.
type partition struct {
	tp     topicPartition
	mu     sync.Mutex
	queue  []*kgo.Record
	hwm    int64 // the high watermark of the latest fetch
	paused bool
	wake   chan struct{}      // a push happened
	stop   chan struct{}      // finish the event in hand, take no more
	ctx    context.Context    // cancelled: abandon the event in hand
	cancel context.CancelFunc // cancels ctx
	done   chan struct{}
}

// push queues recs and pauses the partition's fetching when too many wait.
func (p *partition) push(recs []*kgo.Record, hwm int64, cl *kgo.Client, limit int) {
	p.mu.Lock()
	p.queue = append(p.queue, recs...)
	p.hwm = hwm
	pause := !p.paused && len(p.queue) >= limit
	p.paused = p.paused || pause
	p.mu.Unlock()
	if pause {
		cl.PauseFetchPartitions(map[string][]int32{p.tp.topic: {p.tp.part}})
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take waits for the next records, up to most of those queued, and returns them with
// the records behind the last; false when the partition is to stop.
func (p *partition) take(cl *kgo.Client, limit, most int) ([]*kgo.Record, int64, bool) {
	for {
		select {
		case <-p.stop:
			return nil, 0, false
		default:
		}
		p.mu.Lock()
		if n := min(len(p.queue), most); n > 0 {
			recs := append([]*kgo.Record(nil), p.queue[:n]...)
			clear(p.queue[:n])
			p.queue = p.queue[n:]
			lag := max(p.hwm-recs[n-1].Offset-1, 0)
			resume := p.paused && len(p.queue) <= limit/2
			p.paused = p.paused && !resume
			p.mu.Unlock()
			if resume {
				cl.ResumeFetchPartitions(map[string][]int32{p.tp.topic: {p.tp.part}})
			}
			return recs, lag, true
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.stop:
			return nil, 0, false
		}
	}
}

// work hands the partition's records to the handler until it is stopped, marking
// each handled record's offset for the next commit.
func (c *Consumer[TTx]) work(p *partition, cl *kgo.Client) {
	defer close(p.done)
	for {
		recs, lag, ok := p.take(cl, c.cfg.MaxBuffered, c.cfg.BatchSize)
		if !ok {
			return
		}
		select {
		case c.sem <- struct{}{}:
		case <-p.stop:
			return
		}
		done, err := c.handleAll(p.ctx, p.stop, recs, lag)
		<-c.sem
		if done > 0 {
			cl.MarkCommitRecords(recs[done-1])
		}
		if err != nil { // stopped or cancelled: the rest are not done
			return
		}
	}
}

func (c *Consumer[TTx]) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, parts := range assigned {
		for _, part := range parts {
			tp := topicPartition{topic, part}
			if c.parts[tp] != nil {
				continue
			}
			ctx, cancel := context.WithCancel(c.base)
			p := &partition{tp: tp, wake: make(chan struct{}, 1), stop: make(chan struct{}), ctx: ctx, cancel: cancel, done: make(chan struct{})}
			c.parts[tp] = p
			go c.work(p, cl)
		}
	}
	c.cfg.Logger.Debug("inbox: partitions assigned", "group", c.cfg.Group, "partitions", assigned)
}

// revoked finishes the revoked partitions' events in hand and commits what is done,
// so the next owner starts after it.
func (c *Consumer[TTx]) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.stop(revoked)
	cctx, cancel := context.WithTimeout(ctx, c.cfg.ShutdownTimeout)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		c.cfg.Logger.Warn("inbox: commit on revoke failed: the next owner gets the last events again, and drops them as duplicates", "err", err)
	}
	c.cfg.Logger.Debug("inbox: partitions revoked", "group", c.cfg.Group, "partitions", revoked)
}

// lost stops the lost partitions: their offsets can no longer be committed.
func (c *Consumer[TTx]) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.stop(lost)
	c.cfg.Logger.Warn("inbox: partitions lost", "group", c.cfg.Group, "partitions", lost)
}

// stop stops the workers of parts: each finishes its event in hand within
// ShutdownTimeout, or has it cancelled.
func (c *Consumer[TTx]) stop(parts map[string][]int32) {
	c.mu.Lock()
	var ps []*partition
	for topic, nums := range parts {
		for _, n := range nums {
			tp := topicPartition{topic, n}
			if p := c.parts[tp]; p != nil {
				ps = append(ps, p)
				delete(c.parts, tp)
			}
		}
	}
	cl := c.cl
	c.mu.Unlock()
	c.halt(ps)
	// A partition paused here must fetch again when it is assigned again.
	if cl != nil && len(parts) > 0 {
		cl.ResumeFetchPartitions(parts)
	}
}

// stopAll stops every worker left (none, normally, once the client closed).
func (c *Consumer[TTx]) stopAll() {
	c.mu.Lock()
	var ps []*partition
	for tp, p := range c.parts {
		ps = append(ps, p)
		delete(c.parts, tp)
	}
	c.mu.Unlock()
	c.halt(ps)
}

func (c *Consumer[TTx]) halt(ps []*partition) {
	for _, p := range ps {
		close(p.stop)
	}
	grace := time.NewTimer(c.cfg.ShutdownTimeout)
	defer grace.Stop()
	for _, p := range ps {
		select {
		case <-p.done:
		case <-grace.C:
			for _, q := range ps {
				q.cancel()
			}
			<-p.done
		}
	}
	for _, p := range ps {
		p.cancel()
	}
}
