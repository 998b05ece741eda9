package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// transactor is a publisher that publishes in transactions fenced per unit of work
// (outboxkafka.ExactlyOnce), for Config.ExactlyOnce. A unit is a key bucket in table
// mode, and unit 0 is the stream in WAL mode.
type transactor interface {
	// Fence makes the caller the unit's only producer and returns the progress its
	// last committed transaction carried.
	Fence(ctx context.Context, unit int) ([]byte, error)
	// PublishTx publishes msgs in one transaction with the progress that progress
	// builds from which of them are in it; its result is Publish's.
	PublishTx(ctx context.Context, unit int, msgs []outbox.Message, acks []outbox.Ack, progress func(sent []bool) []byte) error
	// Release closes the unit's producer.
	Release(unit int)
}

// units are the key buckets a worker has fenced, each with the rows that committed
// transactions carried and the database may not have settled, sorted by seq. A bucket
// is always relayed by the same worker, so a worker's units need no lock.
type units map[int][]carried

// prune releases the units whose buckets this relay no longer holds.
func (u units) prune(tx transactor, held []int) {
	for b := range u {
		if !slices.Contains(held, b) {
			tx.Release(b)
			delete(u, b)
		}
	}
}

// txBatch is what an exactly-once batch settles beyond what it sends: the rows its
// buckets' committed transactions carried, as published, whether it claimed them or
// not (waiting for a retry, say), if they still are the same events.
type txBatch struct {
	carried []carried
}

// prepare fences the batch's buckets not yet fenced and reads their progress, then
// checks that the batch still holds its buckets: a relay that stalled after its claim
// may have fenced the producer of a bucket another relay claimed since, and must not
// publish it. It returns the records to send: those no committed transaction carried
// (the same event under the same seq).
func (r *Relay) prepare(ctx context.Context, b source.Batch, recs []source.Record, u units) ([]source.Record, txBatch, error) {
	var tb txBatch
	if err := r.fence(ctx, b, recs, u); err != nil {
		return nil, tb, err
	}
	for _, bucket := range bucketsOf(recs) {
		tb.carried = append(tb.carried, u[bucket]...)
	}
	send := make([]source.Record, 0, len(recs))
	for _, rec := range recs {
		if !u.carries(&rec) {
			send = append(send, rec)
		}
	}
	if n := len(recs) - len(send); n > 0 {
		r.log.Info("settling events a committed transaction carried", "count", n)
	}
	return send, tb, nil
}

// fence fences the batch's buckets that are not yet, reading their progress into u,
// and then checks the batch still holds them.
func (r *Relay) fence(ctx context.Context, b source.Batch, recs []source.Record, u units) error {
	var fence []int
	for _, rec := range recs {
		if _, ok := u[rec.Bucket]; !ok && !slices.Contains(fence, rec.Bucket) {
			fence = append(fence, rec.Bucket)
		}
	}
	if len(fence) == 0 {
		return nil
	}
	progress := make([][]carried, len(fence))
	errs := make([]error, len(fence))
	var wg sync.WaitGroup
	for i, bucket := range fence {
		wg.Go(func() {
			p, err := r.tx.Fence(ctx, bucket)
			if err == nil {
				progress[i], err = decodeTableProgress(p)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		if err = b.Keep(ctx); err != nil {
			err = fmt.Errorf("batch lost its buckets while fencing them: %w", err)
		}
	}
	for i, bucket := range fence {
		if err != nil {
			r.tx.Release(bucket)
			continue
		}
		u[bucket] = progress[i]
	}
	if err != nil {
		return fmt.Errorf("fence buckets: %w", err)
	}
	return nil
}

// sendTx returns the batch's send: one transaction per bucket, all at once. Each
// transaction's progress is its sent rows with the bucket's carried rows. A bucket whose
// transaction failed is fenced again before its next batch.
func (r *Relay) sendTx(recs []source.Record, u units) sendFunc {
	return func(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) error {
		byBucket := map[int][]int{} // indexes into msgs
		for i := range recs {
			byBucket[recs[i].Bucket] = append(byBucket[recs[i].Bucket], i)
		}
		errs := make([]error, len(msgs))
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			sent   = map[int][]carried{}
			failed []int
		)
		for bucket, idx := range byBucket {
			wg.Go(func() {
				m, a := make([]outbox.Message, len(idx)), make([]outbox.Ack, len(idx))
				for j, i := range idx {
					m[j] = msgs[i]
				}
				progress := func(ok []bool) []byte {
					rows := slices.Clone(u[bucket])
					for j, i := range idx {
						if ok[j] {
							rows = append(rows, carriedOf(&recs[i]))
						}
					}
					return tableProgress(sortCarried(rows))
				}
				res := perMessage(r.tx.PublishTx(ctx, bucket, m, a, progress), len(idx))
				mu.Lock()
				defer mu.Unlock()
				for j, i := range idx {
					errs[i], acks[i] = res[j], a[j]
					if res[j] == nil {
						sent[bucket] = append(sent[bucket], carriedOf(&recs[i]))
					}
				}
				if len(sent[bucket]) == 0 && errors.Join(res...) != nil {
					failed = append(failed, bucket)
				}
			})
		}
		wg.Wait()
		for bucket, rows := range sent {
			u[bucket] = sortCarried(append(rows, u[bucket]...))
		}
		for _, bucket := range failed {
			delete(u, bucket) // fenced again, its progress read anew, before its next batch
		}
		if errors.Join(errs...) == nil {
			return nil
		}
		return &outbox.BatchError{Errs: errs}
	}
}

func carriedOf(rec *source.Record) carried { return carried{seq: rec.Seq, id: rec.Message.ID} }

// carries reports whether a committed transaction carried rec: its seq, as the same event.
func (u units) carries(rec *source.Record) bool {
	rows := u[rec.Bucket]
	i, found := slices.BinarySearchFunc(rows, carried{seq: rec.Seq}, compareCarried)
	return found && rows[i].id == rec.Message.ID
}

func sortCarried(rows []carried) []carried {
	slices.SortFunc(rows, compareCarried)
	return slices.CompactFunc(rows, func(a, b carried) bool { return a.seq == b.seq })
}

// settled records that the database settled the batch, and with it every row its
// buckets' transactions carried.
func (u units) settled(recs []source.Record) {
	for _, b := range bucketsOf(recs) {
		if _, ok := u[b]; ok {
			u[b] = nil
		}
	}
}

func bucketsOf(recs []source.Record) []int {
	var bs []int
	for _, rec := range recs {
		if !slices.Contains(bs, rec.Bucket) {
			bs = append(bs, rec.Bucket)
		}
	}
	return bs
}
