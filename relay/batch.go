package relay

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// batch claims up to BatchSize messages from buckets, publishes them and settles each
// in the batch's transaction: published, failed (retry or dead), or left pending. Once
// claimed, a batch is finished even if ctx is cancelled, within ShutdownTimeout, so a
// graceful stop loses and duplicates nothing. With ExactlyOnce, u holds the worker's
// fenced buckets, and each bucket's messages go in a transaction of its own.
func (r *Relay) batch(ctx context.Context, buckets []int, busy bool, u units) (int, error) {
	if ctx.Err() != nil {
		return 0, nil
	}
	start := time.Now()
	// From the claim on, the batch runs under a context of its own: a claim cancelled
	// half-way would only waste work, a settle cancelled half-way would duplicate it.
	finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownTimeout+r.cfg.PublishTimeout)
	defer cancel()
	cctx, ccancel := context.WithTimeout(finish, r.cfg.PublishTimeout)
	b, err := r.store.Claim(cctx, &source.ClaimParams{
		Buckets: buckets, Limit: r.cfg.BatchSize, HoldDeadKeys: r.cfg.HoldKeyOnDead, IdleTimeout: r.cfg.LeaseTTL, Durable: u != nil,
		Busy: busy,
	})
	ccancel()
	if err != nil || b == nil {
		return 0, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = b.Rollback(finish)
		}
	}()
	recs := b.Records()

	var (
		o    outcome
		send sendFunc
		todo = recs
		tb   txBatch
	)
	if u != nil {
		if todo, tb, err = r.prepare(finish, b, recs, u); err != nil {
			return 0, err
		}
		o.carried = tb.carried
	}
	wellFormed := make([]source.Record, 0, len(recs))
	for _, rec := range todo {
		if rec.DecodeErr != nil {
			o.add(rec.Seq, failKey{msg: fmt.Sprintf("%v: malformed row: %v", outbox.ErrPermanent, rec.DecodeErr), permanent: true, malformed: true})
			r.event(EventStats{Topic: rec.Message.Topic, Outcome: Dead, Failure: Malformed, Attempt: rec.Attempts + 1})
			continue
		}
		wellFormed = append(wellFormed, rec)
	}
	if u != nil {
		send = r.sendTx(wellFormed, u)
	}
	if len(wellFormed) > 0 {
		r.publish(finish, wellFormed, &o, send)
	}
	stats, err := r.settle(finish, b, &o)
	if err == nil {
		err = b.Commit(finish)
		committed = err == nil
	}
	if committed && u != nil {
		u.settled(recs)
	}
	stats.Claimed, stats.Duration = len(recs), time.Since(start)
	if r.cfg.Hooks.Batch != nil {
		r.cfg.Hooks.Batch(stats)
	}
	if err != nil {
		return len(recs), fmt.Errorf("settle batch of %d: %w", len(recs), err)
	}
	if stats.Failed > 0 {
		if stats.Published == 0 && o.transient > 0 {
			// Logged by the worker, paced: in an outage every batch fails alike.
			return len(recs), fmt.Errorf("publish batch of %d: %s", len(recs), o.causes())
		}
		// In the workers' run too, without their pause: a fault of one broker fails its
		// partitions' share of every batch.
		r.onPartialFailure(&r.retry, "publish failed for part of a batch", "failed", stats.Failed, "dead", stats.Dead,
			"published", stats.Published, "errors", o.causes())
	}
	return len(recs), nil
}

// outcome sorts a batch's messages by what happens to them next.
type outcome struct {
	published []int64
	carried   []carried // by committed transactions before (ExactlyOnce): published, not sent
	skipped   []int64
	failed    map[failKey][]int64
	transient int
}

type failKey struct {
	msg       string
	permanent bool
	malformed bool // no retry can fix the row itself: dead at once
}

// causes sums up a round's failures for its log line: each distinct error with how
// many events it failed, the commonest first, at most maxCauses of them. A cluster
// fault's errors name their partition and its leader, so the line says which
// partitions of which broker fail, and how many events each holds back.
func (o *outcome) causes() string {
	const maxCauses = 4
	keys := make([]failKey, 0, len(o.failed))
	for k := range o.failed {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b failKey) int {
		if n := cmp.Compare(len(o.failed[b]), len(o.failed[a])); n != 0 {
			return n
		}
		return strings.Compare(a.msg, b.msg)
	})
	var sb strings.Builder
	for i, k := range keys {
		if i == maxCauses {
			fmt.Fprintf(&sb, "; %d more", len(keys)-i)
			break
		}
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "%d× %s", len(o.failed[k]), k.msg)
	}
	return sb.String()
}

func (o *outcome) add(seq int64, k failKey) {
	if o.failed == nil {
		o.failed = map[failKey][]int64{}
	}
	if !k.permanent {
		o.transient++
	}
	o.failed[k] = append(o.failed[k], seq)
}

// settle records the outcome in the batch; skipped messages are left as they are.
func (r *Relay) settle(ctx context.Context, b source.Batch, o *outcome) (BatchStats, error) {
	st := BatchStats{Published: len(o.published), Skipped: len(o.skipped)}
	if len(o.published) > 0 {
		if err := b.MarkPublished(ctx, o.published, r.cfg.Retention > 0); err != nil {
			return st, err
		}
	}
	if len(o.carried) > 0 {
		seqs, ids := make([]int64, len(o.carried)), make([]uuid.UUID, len(o.carried))
		for i, c := range o.carried {
			seqs[i], ids[i] = c.seq, c.id
		}
		if err := b.MarkCarried(ctx, seqs, ids, r.cfg.Retention > 0); err != nil {
			return st, err
		}
	}
	for k, seqs := range o.failed {
		attempts := r.cfg.MaxAttempts
		if k.malformed {
			attempts = 1
		}
		dead, err := b.MarkFailed(ctx, &source.FailParams{
			Seqs: seqs, Error: k.msg, MaxAttempts: attempts, Permanent: k.permanent,
			Backoff: r.cfg.Backoff, MaxBackoff: r.cfg.MaxBackoff,
		})
		if err != nil {
			return st, err
		}
		st.Failed += len(seqs)
		st.Dead += dead
		if dead > 0 && k.malformed { // the others are logged one by one, with their trace
			r.log.Error("malformed rows dead-lettered", "count", dead, "err", k.msg)
		}
	}
	return st, nil
}
