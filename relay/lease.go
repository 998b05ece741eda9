package relay

import (
	"context"
	"slices"
	"time"
)

// leases tracks the buckets this relay holds and until when, by the local monotonic
// clock: the database grants ttl from its own now(), which is never earlier than the
// moment the sync started here, so validUntil errs on the safe side whatever the skew.
type leases struct {
	buckets    []int
	validUntil time.Time
}

// valid reports the buckets that stay leased for at least margin more. A leases value
// is never changed once stored, so workers read it without locking.
func (l *leases) valid(margin time.Duration) []int {
	if time.Until(l.validUntil) < margin {
		return nil
	}
	return l.buckets
}

// sync heartbeats, renews the held leases, then gives up or takes buckets to hold a fair
// share: ceil(buckets / live relays).
func (r *Relay) sync(ctx context.Context) error {
	start := time.Now()
	ttl := r.cfg.LeaseTTL
	alive, err := r.store.Heartbeat(ctx, r.cfg.ID, ttl)
	if err != nil {
		return err
	}
	held, err := r.store.RenewLeases(ctx, r.cfg.ID, ttl)
	if err != nil {
		return err
	}
	n := r.store.Buckets()
	share := (n + max(alive, 1) - 1) / max(alive, 1)
	slices.Sort(held)
	switch {
	case len(held) > share:
		if err := r.store.ReleaseLeases(ctx, r.cfg.ID, held[share:], false); err != nil {
			return err
		}
		held = held[:share]
	case len(held) < share:
		got, err := r.store.AcquireLeases(ctx, r.cfg.ID, ttl, share-len(held))
		if err != nil {
			return err
		}
		held = append(held, got...)
		slices.Sort(held)
	}
	if len(held) != len(r.leases.Load().buckets) {
		r.log.Info("leases changed", "buckets", len(held), "relays", alive)
	}
	r.leases.Store(&leases{buckets: held, validUntil: start.Add(ttl)})
	select {
	case <-r.synced:
	default:
		close(r.synced)
	}
	if r.cfg.Hooks.Leases != nil {
		r.cfg.Hooks.Leases(LeaseStats{Held: len(held), Alive: alive})
	}
	return nil
}
