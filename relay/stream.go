package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/firstunicorn/outbox/relay/source"
)

// runStream attaches to the stream, as a standby while another relay reads it, and
// relays it until ctx ends.
func (r *Relay) runStream(ctx context.Context) error {
	r.log.Info("relay started", "mode", "stream", "batch_size", r.cfg.BatchSize)
	defer r.log.Info("relay stopped")
	hctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after stop, below: Run leaves no goroutine behind
	defer stop()
	wg.Go(func() { r.heartbeats(hctx) })
	retry := backoff{base: r.cfg.Backoff, max: r.cfg.MaxBackoff}
	for ctx.Err() == nil {
		rd, err := r.stream.Attach(ctx, r.cfg.ID)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrStreamLost):
			r.log.Error("stream lost events: not relaying", "err", err)
			return err
		case err != nil:
			r.onFailure(&retry, "attach to stream failed", "err", err)
			sleep(ctx, retry.pause())
			continue
		}
		r.onSuccess(&retry, "attaching to the stream") // a stream that fails after it attached starts the backoff anew
		r.attached.Store(true)
		r.log.Info("attached to stream")
		err = r.readStream(ctx, rd)
		rd.Close()
		r.attached.Store(false)
		if err != nil && ctx.Err() == nil {
			r.onFailure(&retry, "stream read failed", "err", err)
			sleep(ctx, retry.pause())
		}
	}
	return nil
}

// heartbeats writes a marker into the stream every LeaseTTL/3 and reports, through the
// Leases hook, whether this relay reads the stream (Held 1) or stands by (Held 0).
func (r *Relay) heartbeats(ctx context.Context) {
	for ctx.Err() == nil {
		if err := r.stream.Heartbeat(ctx); err != nil {
			if ctx.Err() == nil {
				r.log.Warn("stream heartbeat failed", "err", err)
			}
		} else if r.cfg.Hooks.Leases != nil {
			held := 0
			if r.attached.Load() {
				held = 1
			}
			r.cfg.Hooks.Leases(LeaseStats{Held: held, Alive: 1})
		}
		sleep(ctx, r.cfg.LeaseTTL/3)
	}
}

// readStream relays rd until ctx ends or rd fails.
func (r *Relay) readStream(ctx context.Context, rd source.StreamReader) error {
	var s *streamTx // with ExactlyOnce: fenced once the slot is this relay's
	if r.tx != nil {
		var err error
		if s, err = r.fenceStream(ctx); err != nil {
			return err
		}
		defer r.tx.Release(streamUnit)
	}
	h := holds{on: r.cfg.HoldKeyOnDead}
	if h.on {
		keys, err := rd.DeadKeys(ctx)
		if err != nil {
			return fmt.Errorf("read dead keys: %w", err)
		}
		h.keys = keys
	}
	for {
		recs, through, err := r.next(ctx, rd)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if s != nil {
			n := len(recs)
			if recs = s.unhandled(recs); len(recs) < n {
				r.log.Info("skipping events a committed transaction carried", "count", n-len(recs))
			}
		}
		if len(recs) > 0 {
			if err := r.deliver(ctx, rd, recs, &h, s); err != nil {
				return err
			}
		}
		if through > 0 {
			rd.Confirm(through)
		}
	}
}

// next reads the stream's next batch: what is there, or once something is, what else
// comes within BatchWait, so that small transactions committed together share a produce
// request and a confirmation.
func (r *Relay) next(ctx context.Context, rd source.StreamReader) ([]source.Record, uint64, error) {
	recs, through, err := rd.Next(ctx, r.cfg.BatchSize)
	if err != nil || len(recs) == 0 {
		return recs, through, err
	}
	until := time.Now().Add(r.cfg.BatchWait)
	for len(recs) < r.cfg.BatchSize && time.Until(until) > 0 {
		wctx, cancel := context.WithDeadline(ctx, until)
		more, t, err := rd.Next(wctx, r.cfg.BatchSize-len(recs))
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				break
			}
			return nil, 0, err
		}
		recs = append(recs, more...)
		if t > 0 {
			through = t
		}
	}
	return recs, through, nil
}
