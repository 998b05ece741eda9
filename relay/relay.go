// Package relay moves messages from an outbox store to a publisher: at least once, in
// commit order per key, with retries, backoff and a dead-letter state.
//
// Several relays, in one process or on many machines, share one outbox through the
// database alone: keys hash into buckets, each bucket is leased to one relay at a time,
// and only its holder publishes it. Leases expire unless renewed, so a dead relay's
// buckets move to the others after Config.LeaseTTL.
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// Relay publishes an outbox. Create it with New and start it with Run.
type Relay struct {
	store  source.Store // table mode; nil in WAL mode
	pub    outbox.Publisher
	tx     transactor // with Config.ExactlyOnce; nil otherwise
	cfg    Config
	log    *slog.Logger
	leases atomic.Pointer[leases]
	synced chan struct{} // closed after the first lease sync
	retry  backoff       // the workers' schedule, and the log of their run of failures
	wake   *waker
	tracer trace.Tracer
	pace   *pace        // table mode, at least once, several workers; nil otherwise
	idlers atomic.Int32 // workers waiting to be woken: the watcher polls only for them

	stream   source.Stream // WAL mode; nil in table mode
	attached atomic.Bool   // WAL mode: this relay reads the stream
}

// New validates cfg and returns a relay that publishes src's events to pub. src is an
// *outboxstore.Store, and its mode decides how the relay works:
//
//   - Table mode: several relays, in one process or on many machines, share the outbox
//     through leased key buckets; each publishes its buckets' events in commit order
//     per key, Config.Workers batches at a time.
//   - WAL mode: one relay at a time reads the replication slot, in commit order, in
//     batches of up to BatchSize with Kafka's produce pipelined within each; the others
//     stand by and take over when it stops. A transaction is confirmed once each of its
//     events is sent or dead-lettered. An event that fails transiently holds the
//     stream, retried with backoff until it is sent; one that fails permanently
//     (outbox.ErrPermanent) is dead-lettered at once, since retrying it would hold every
//     later event. Workers, PollInterval, MaxAttempts, Retention and PurgeInterval do
//     not apply; LeaseTTL/3 is the heartbeat interval.
func New(src Source, pub outbox.Publisher, cfg *Config) (*Relay, error) {
	if src == nil || pub == nil {
		return nil, fmt.Errorf("%w: relay: a source (the outboxstore.Store) and a publisher are required", outbox.ErrInvalidConfig)
	}
	o, err := src.RelaySource()
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	if (o.Table == nil) == (o.Stream == nil) {
		return nil, fmt.Errorf("%w: relay: the source gave neither or both of a table and a stream", outbox.ErrInvalidConfig)
	}
	r, err := newRelay(pub, cfg)
	if err != nil {
		return nil, err
	}
	r.store, r.stream = o.Table, o.Stream
	if r.store != nil && r.cfg.BatchWait == 0 {
		r.cfg.BatchWait = DefaultBatchWait
	}
	if r.store != nil && r.tx == nil && r.cfg.Workers > 1 && r.cfg.BatchWait > 0 {
		r.pace = newPace(r.cfg.Workers, r.cfg.BatchSize, 2*r.cfg.BatchWait)
	}
	return r, nil
}

func newRelay(pub outbox.Publisher, cfg *Config) (*Relay, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Relay{pub: pub, cfg: c, log: c.Logger.With("relay", c.ID), synced: make(chan struct{}),
		retry: backoff{base: c.Backoff, max: c.MaxBackoff, settle: logEvery}, wake: newWaker()}
	tx, ok := pub.(transactor)
	switch {
	case c.ExactlyOnce && !ok:
		return nil, fmt.Errorf("%w: relay: ExactlyOnce needs a publisher that publishes in transactions: outboxkafka.NewExactlyOnce", outbox.ErrInvalidConfig)
	case ok && !c.ExactlyOnce:
		return nil, fmt.Errorf("%w: relay: the publisher publishes only in transactions: set Config.ExactlyOnce, or use outboxkafka.New", outbox.ErrInvalidConfig)
	case ok:
		r.tx = tx
	}
	tp := c.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	r.tracer = tp.Tracer(tracerName)
	r.leases.Store(&leases{})
	return r, nil
}

// ID returns the relay's name in leases and logs.
func (r *Relay) ID() string { return r.cfg.ID }

// Run relays until ctx is cancelled, then finishes the batches in flight (publishing and
// settling them, bounded by ShutdownTimeout), releases its leases so other relays take
// over at once, and returns nil. Errors from the database or the broker are logged and
// retried with backoff; Run returns an error only for what retrying cannot fix.
func (r *Relay) Run(ctx context.Context) error {
	if r.stream != nil {
		return r.runStream(ctx)
	}
	r.log.Info("relay started", "batch_size", r.cfg.BatchSize, "workers", r.cfg.Workers, "lease_ttl", r.cfg.LeaseTTL)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.leaseLoop(gctx) })
	for w := range r.cfg.Workers {
		g.Go(func() error { return r.work(gctx, w) })
	}
	if r.cfg.Retention > 0 {
		g.Go(func() error { return r.purgeLoop(gctx) })
	}
	if n, ok := r.store.(source.Notifier); ok {
		g.Go(func() error { return r.watch(gctx, n) })
	}
	err := g.Wait()
	leave, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownTimeout)
	defer cancel()
	if rerr := r.store.ReleaseLeases(leave, r.cfg.ID, nil, true); rerr != nil {
		r.log.Warn("release leases on stop", "err", rerr)
	}
	r.log.Info("relay stopped")
	return err
}

// leaseLoop keeps this relay's fair share of buckets leased, syncing every LeaseTTL/3.
// It needs no pause in the batches: a bucket given up mid-batch stays locked by that
// batch until it ends, so its next holder cannot overtake it.
func (r *Relay) leaseLoop(ctx context.Context) error {
	retry := backoff{base: r.cfg.Backoff, max: r.cfg.MaxBackoff} // its own: a sync failure need not pause the batches
	for ctx.Err() == nil {
		wait := r.cfg.LeaseTTL / 3
		if err := r.sync(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			r.onFailure(&retry, "lease sync failed", "err", err)
			wait = min(wait, retry.pause())
		} else {
			r.onSuccess(&retry, "lease sync")
		}
		sleep(ctx, wait)
	}
	return nil
}

// work relays the leased buckets b with b % Workers == w, one batch at a time.
func (r *Relay) work(ctx context.Context, w int) error {
	var u units // the buckets this worker fenced, with ExactlyOnce
	if r.tx != nil {
		u = units{}
		defer u.prune(r.tx, nil)
	}
	select { // the first sync decides what to relay
	case <-r.synced:
	case <-ctx.Done():
		return nil
	}
	busy := false // solo, the last batch found events
	for ctx.Err() == nil {
		if d := r.retry.pause(); d > 0 {
			sleep(ctx, d)
			continue
		}
		claims, all, rest := r.pace.share(w)
		if !claims {
			select {
			case <-rest:
			case <-ctx.Done():
			}
			continue
		}
		woken := r.wake.wait()
		began := time.Now()
		n, err := r.step(ctx, w, turn{all: all, busy: busy}, u)
		// Alone on every bucket after BatchWait, a worker that found events will find
		// more: it skips the peek. On its share, right after a slow batch, it may not.
		busy = err == nil && n > 0 && all
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.onFailure(&r.retry, "relay step failed", "worker", w, "err", err)
		default:
			r.onSuccess(&r.retry, "relaying") // with n == 0, nothing failing for settle: the run is over
			r.pace.claimed(w, n, time.Since(began), all)
			switch {
			case n == 0:
				r.idle(ctx, woken)
				r.wait(ctx, began)
			case n < r.cfg.BatchSize: // events flow: more will have come by then
				r.wait(ctx, began)
			}
		}
	}
	return nil
}

// turn is how a worker claims: over every bucket (solo, see pace) or its share, and
// whether its last batch found events.
type turn struct{ all, busy bool }

// step relays one batch of worker w's buckets and returns its size.
func (r *Relay) step(ctx context.Context, w int, t turn, u units) (int, error) {
	if u != nil {
		u.prune(r.tx, r.leases.Load().buckets)
	}
	// A batch needs its leases for the whole publish, with a heartbeat to spare.
	var buckets []int
	for _, b := range r.leases.Load().valid(r.cfg.PublishTimeout + r.cfg.LeaseTTL/3) {
		if t.all || b%r.cfg.Workers == w {
			buckets = append(buckets, b)
		}
	}
	if len(buckets) == 0 {
		return 0, nil
	}
	return r.batch(ctx, buckets, t.busy, u)
}

func (r *Relay) purgeLoop(ctx context.Context) error {
	t := time.NewTicker(r.cfg.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := r.store.Purge(ctx, r.cfg.Retention)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("purge published messages", "err", err)
		} else if n > 0 {
			r.log.Info("purged published messages", "count", n)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// jitter spreads d over [d/2, d) so relays that failed together do not retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
