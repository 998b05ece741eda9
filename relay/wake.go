package relay

import (
	"context"
	"sync"
	"time"

	"github.com/firstunicorn/outbox/relay/source"
)

// While messages flow, the watcher polls the store's watermark every hotPoll for the
// workers that idle (see pace); after quietAfter without a change it waits for a
// notification instead (Notifier.Listen), so an idle relay costs the database almost
// nothing and writers are notified only then. A store that cannot listen has its
// watermark polled every PollInterval while quiet.
const (
	hotPoll    = 2 * time.Millisecond
	quietAfter = 250 * time.Millisecond
	// listenWait bounds one wait for a notification; workers still poll every
	// PollInterval in case a notification is lost.
	listenWait = 5 * time.Second
)

// waker wakes every idle worker at once.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func newWaker() *waker { return &waker{ch: make(chan struct{})} }

// wait returns a channel closed at the next wake. Take it before looking for work, so a
// wake between an empty look and the wait is not missed.
func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// idle waits until woken, PollInterval passes, or ctx ends.
func (r *Relay) idle(ctx context.Context, woken <-chan struct{}) {
	r.idlers.Add(1)
	defer r.idlers.Add(-1)
	t := time.NewTimer(r.cfg.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-woken:
	case <-t.C:
	}
}

// watch wakes the workers when the store's watermark moves.
func (r *Relay) watch(ctx context.Context, n source.Notifier) error {
	var l source.Listener
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	last, _ := n.Watermark(ctx)
	lastChange := time.Now()
	canListen := true
	for ctx.Err() == nil {
		switch {
		case r.idlers.Load() == 0:
			// Every worker is claiming, or waits to claim again (BatchWait): no one to
			// wake. Events flow, so the relay stays hot.
			lastChange = time.Now()
			sleep(ctx, hotPoll)
			continue
		case time.Since(lastChange) < quietAfter:
			sleep(ctx, hotPoll)
		case !canListen:
			sleep(ctx, r.cfg.PollInterval)
		default:
			var err error
			if l == nil {
				l, err = n.Listen(ctx, r.cfg.ID)
				canListen = err != nil || l != nil
			}
			if err == nil && l != nil {
				err = l.Wait(ctx, last, listenWait)
			}
			if err != nil && ctx.Err() == nil {
				r.log.Warn("wait for writes", "err", err)
				if l != nil {
					l.Close()
					l = nil
				}
				sleep(ctx, r.cfg.PollInterval)
			}
		}
		w, err := n.Watermark(ctx)
		if err != nil {
			if ctx.Err() == nil {
				sleep(ctx, r.cfg.PollInterval)
			}
			continue
		}
		if w != last {
			last, lastChange = w, time.Now()
			r.wake.wake()
		}
	}
	return nil
}
