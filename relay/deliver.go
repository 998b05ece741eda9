package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// deliver publishes recs, a stretch of the stream, until each is sent or dead-lettered,
// in rounds: a round publishes what is left, in order; a permanent failure is
// dead-lettered at once, and what failed transiently or was skipped behind a failed
// record of its key goes to the next round after a backoff. Nothing later in the stream moves on
// meanwhile, so no key is ever reordered. It returns an error when ctx ends between
// rounds, or dead letters cannot be stored: the stretch is then left unconfirmed.
// With ExactlyOnce, s is the stream's progress: each round is a transaction, and one
// that fails ends the delivery too.
func (r *Relay) deliver(ctx context.Context, rd source.StreamReader, recs []source.Record, h *holds, s *streamTx) error {
	start := time.Now()
	stats := BatchStats{Claimed: len(recs)}
	defer func() {
		stats.Duration = time.Since(start)
		if r.cfg.Hooks.Batch != nil {
			r.cfg.Hooks.Batch(stats)
		}
	}()
	pending := recs
	for len(pending) > 0 {
		// Each round, once begun, is finished even if ctx ends meanwhile: the events it
		// publishes are then known to be sent or not. A deadline of its own, so a long
		// outage's later rounds are not born expired.
		finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownTimeout+r.cfg.PublishTimeout)
		var dead deadLetters
		send := make([]source.Record, 0, len(pending))
		for _, rec := range pending {
			switch {
			case rec.DecodeErr != nil:
				dead.add(rec, fmt.Sprintf("%v: malformed event: %v", outbox.ErrPermanent, rec.DecodeErr))
				r.event(EventStats{Topic: rec.Message.Topic, Outcome: Dead, Failure: Malformed, Attempt: rec.Attempts + 1})
			case h.holds(&rec):
				dead.add(rec, "held: an earlier event of its key is dead-lettered (HoldKeyOnDead); retry them together")
				r.event(EventStats{Topic: rec.Message.Topic, Outcome: Dead, Attempt: rec.Attempts + 1})
			default:
				rec.Seq = int64(len(send))
				send = append(send, rec)
			}
		}
		var o outcome
		if len(send) > 0 {
			var tx sendFunc
			if s != nil {
				tx = r.sendStream(s, recs, send)
			}
			r.publish(finish, send, &o, tx)
		}
		stats.Published += len(o.published)
		retry := r.sortFailed(send, &o, &dead, &stats)
		err := dead.store(finish, rd, h)
		cancel()
		if err != nil {
			return err
		}
		if s != nil {
			*s = s.with(recs, dead.positions()...)
			if o.transient > 0 { // in a transaction, only the transaction's failure is transient
				return fmt.Errorf("%w: %s", errLeaveStream, o.causes())
			}
		}
		stats.Dead += len(dead.recs)
		if len(retry) == 0 {
			r.onSuccess(&r.retry, "publishing")
			return nil
		}
		r.onFailure(&r.retry, "publish failed, retrying in order", "failed", len(retry), "errors", o.causes())
		sleep(ctx, r.retry.pause())
		if ctx.Err() != nil {
			return fmt.Errorf("stopped with %d events unsent: %w", len(retry), context.Cause(ctx))
		}
		pending = retry
	}
	return nil
}

// sortFailed splits the round's failed and skipped records, in stream order, into those
// to retry and those that failed permanently (into dead).
func (r *Relay) sortFailed(send []source.Record, o *outcome, dead *deadLetters, stats *BatchStats) []source.Record {
	why := make(map[int64]failKey, len(send))
	for k, seqs := range o.failed {
		for _, s := range seqs {
			why[s] = k
		}
	}
	skipped := make(map[int64]bool, len(o.skipped))
	for _, s := range o.skipped {
		skipped[s] = true
	}
	var retry []source.Record
	for _, rec := range send {
		k, failed := why[rec.Seq]
		switch {
		case skipped[rec.Seq]:
			retry = append(retry, rec)
		case !failed:
		case r.dies(k.permanent, rec.Attempts):
			dead.add(rec, k.msg)
		default:
			stats.Failed++
			retry = append(retry, rec)
		}
	}
	return retry
}

// deadLetters are the records a round gives up on.
type deadLetters struct {
	recs    []source.Record
	reasons []string
}

func (d *deadLetters) add(rec source.Record, reason string) {
	d.recs, d.reasons = append(d.recs, rec), append(d.reasons, reason)
}

func (d *deadLetters) positions() []source.Pos {
	ps := make([]source.Pos, len(d.recs))
	for i := range d.recs {
		ps[i] = d.recs[i].Pos
	}
	return ps
}

func (d *deadLetters) store(ctx context.Context, rd source.StreamReader, h *holds) error {
	if len(d.recs) == 0 {
		return nil
	}
	if err := rd.DeadLetter(ctx, d.recs, d.reasons); err != nil {
		return fmt.Errorf("store %d dead letters: %w", len(d.recs), err)
	}
	for _, rec := range d.recs {
		h.hold(&rec)
	}
	return nil
}

// holds are the keys HoldKeyOnDead keeps back, each with the event that holds it: a key
// is held from the moment one of its events is dead-lettered until an operator's retry
// sends that very event again (it comes back through the stream marked Redelivered).
// The key's later events are dead-lettered as held meanwhile; retried together with it,
// they follow it, and are held again if it dies again.
type holds struct {
	on   bool
	keys map[string]uuid.UUID
}

func (h *holds) hold(rec *source.Record) {
	if !h.on || rec.Message.Key == nil {
		return
	}
	if h.keys == nil {
		h.keys = map[string]uuid.UUID{}
	}
	if _, held := h.keys[string(rec.Message.Key)]; !held {
		h.keys[string(rec.Message.Key)] = rec.Message.ID
	}
}

// holds reports whether rec must wait behind a dead event of its key; the redelivery of
// the event that holds the key releases it instead.
func (h *holds) holds(rec *source.Record) bool {
	if !h.on || rec.Message.Key == nil {
		return false
	}
	holder, held := h.keys[string(rec.Message.Key)]
	if !held {
		return false
	}
	if rec.Redelivered && rec.Message.ID == holder {
		delete(h.keys, string(rec.Message.Key))
		return false
	}
	return true
}
