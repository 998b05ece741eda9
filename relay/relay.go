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
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox"
)

// Relay publishes an outbox. Create it with New and start it with Run.
type Relay struct {
	store  Store
	pub    outbox.Publisher
	cfg    Config
	log    *slog.Logger
	leases leases
}

// New validates cfg and returns a relay from store to pub.
func New(store Store, pub outbox.Publisher, cfg *Config) (*Relay, error) {
	if store == nil || pub == nil {
		return nil, fmt.Errorf("%w: relay: store and publisher are required", outbox.ErrInvalidConfig)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Relay{store: store, pub: pub, cfg: c, log: c.Logger.With("relay", c.ID)}, nil
}

// ID returns the relay's name in leases and logs.
func (r *Relay) ID() string { return r.cfg.ID }

// Run relays until ctx is cancelled, then finishes the batch in flight (publishing and
// settling it, bounded by ShutdownTimeout), releases its leases so other relays take
// over at once, and returns nil. Errors from the database or the broker are logged and
// retried with backoff; Run returns an error only for what retrying cannot fix.
func (r *Relay) Run(ctx context.Context) error {
	r.log.Info("relay started", "batch_size", r.cfg.BatchSize, "lease_ttl", r.cfg.LeaseTTL)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.loop(gctx) })
	if r.cfg.Retention > 0 {
		g.Go(func() error { return r.purgeLoop(gctx) })
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

func (r *Relay) loop(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		n, err := r.step(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			r.log.Warn("relay step failed", "err", err, "failures", failures)
			sleep(ctx, jitter(min(r.cfg.MaxBackoff, r.cfg.Backoff<<min(failures-1, 16))))
		case n < r.cfg.BatchSize:
			failures = 0
			sleep(ctx, r.cfg.PollInterval)
		default:
			failures = 0
		}
	}
	return nil
}

// step syncs leases when due, then relays one batch, and returns its size.
func (r *Relay) step(ctx context.Context) (int, error) {
	heartbeat := r.cfg.LeaseTTL / 3
	if time.Since(r.leases.lastSync) >= heartbeat || r.leases.valid(r.cfg.PublishTimeout+heartbeat) == nil {
		if err := r.sync(ctx); err != nil {
			return 0, fmt.Errorf("sync leases: %w", err)
		}
	}
	// A batch needs its leases for the whole publish, with a heartbeat to spare.
	buckets := r.leases.valid(r.cfg.PublishTimeout + heartbeat)
	if len(buckets) == 0 {
		return 0, nil
	}
	return r.batch(ctx, buckets)
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
