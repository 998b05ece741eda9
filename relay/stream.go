package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

// Stream is a log of committed messages in commit order that one relay reads at a time:
// WAL mode's replication slot (outboxstore.Store.Stream). NewStream makes a relay of it.
type Stream interface {
	// Attach waits until owner may read the stream, which another relay may be reading,
	// then opens it at the first message not yet confirmed. An error wrapping
	// ErrStreamLost means the stream has lost messages: Run returns it.
	Attach(ctx context.Context, owner string) (StreamReader, error)
	// Heartbeat writes a marker into the stream, so a quiet database's stream moves on.
	Heartbeat(ctx context.Context) error
}

// StreamReader is an attached stream. Its methods are called from one goroutine.
type StreamReader interface {
	// Next returns up to max records in commit order, waiting for the first, and the
	// position to Confirm once they and all records before them are sent or
	// dead-lettered (0: no transaction ended among them). Its error ends the reader.
	Next(ctx context.Context, max int) ([]Record, uint64, error)
	// Confirm tells the stream it need not send anything up to pos again.
	Confirm(pos uint64)
	// DeadLetter stores recs as dead events, each with its reason, where the operator's
	// dead, retry and purge commands find them.
	DeadLetter(ctx context.Context, recs []Record, reasons []string) error
	// DeadKeys maps each key that has a dead event to the id of its earliest one, for
	// HoldKeyOnDead.
	DeadKeys(ctx context.Context) (map[string]uuid.UUID, error)
	// Close detaches, so a standby takes over at once.
	Close()
}

// ErrStreamLost marks a stream that lost messages (an invalidated replication slot):
// retrying cannot bring them back, so the relay stops with an error that says what to do.
var ErrStreamLost = errors.New("stream lost events")

// NewStream validates cfg and returns a relay from stream to pub. It publishes the
// stream's records in commit order, in batches of up to BatchSize with Kafka's produce
// pipelined within each, and confirms a transaction once each of its records is sent or
// dead-lettered. A record that fails transiently holds the stream, retried with backoff
// until it is sent; one that fails permanently (outbox.ErrPermanent) is dead-lettered at
// once, since retrying it would hold every later event. Of Config's fields, Workers,
// PollInterval, MaxAttempts, Retention and PurgeInterval do not apply; LeaseTTL/3 is the
// heartbeat interval.
func NewStream(stream Stream, pub outbox.Publisher, cfg *Config) (*Relay, error) {
	if stream == nil || pub == nil {
		return nil, fmt.Errorf("%w: relay: stream and publisher are required", outbox.ErrInvalidConfig)
	}
	r, err := newRelay(pub, cfg)
	if err != nil {
		return nil, err
	}
	r.stream = stream
	return r, nil
}

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
			r.failed(&retry, "attach to stream failed", "err", err)
			sleep(ctx, retry.pause())
			continue
		}
		r.recovered(&retry, "attaching to the stream") // a stream that fails after it attached starts the backoff anew
		r.attached.Store(true)
		r.log.Info("attached to stream")
		err = r.readStream(ctx, rd)
		rd.Close()
		r.attached.Store(false)
		if err != nil && ctx.Err() == nil {
			r.failed(&retry, "stream read failed", "err", err)
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
func (r *Relay) readStream(ctx context.Context, rd StreamReader) error {
	h := holds{on: r.cfg.HoldKeyOnDead}
	if h.on {
		keys, err := rd.DeadKeys(ctx)
		if err != nil {
			return fmt.Errorf("read dead keys: %w", err)
		}
		h.keys = keys
	}
	for {
		recs, through, err := rd.Next(ctx, r.cfg.BatchSize)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			if err := r.deliver(ctx, rd, recs, &h); err != nil {
				return err
			}
		}
		if through > 0 {
			rd.Confirm(through)
		}
	}
}
