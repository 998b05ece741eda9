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
// transactions carried and the database may not have settled. A bucket is always
// relayed by the same worker, so a worker's units need no lock.
type units map[int][]int64

// prune releases the units whose buckets this relay no longer holds.
func (u units) prune(tx transactor, held []int) {
	for b := range u {
		if !slices.Contains(held, b) {
			tx.Release(b)
			delete(u, b)
		}
	}
}

// prepare fences the batch's buckets not yet fenced and reads their progress, then
// checks that the batch still holds its buckets: a relay that stalled after its claim
// may have fenced the producer of a bucket another relay claimed since, and must not
// publish it. It returns the records to send and the rows to settle as published
// without sending: those a committed transaction already carried.
func (r *Relay) prepare(ctx context.Context, b source.Batch, recs []source.Record, u units) ([]source.Record, []int64, error) {
	var fence []int
	for _, rec := range recs {
		if _, ok := u[rec.Bucket]; !ok && !slices.Contains(fence, rec.Bucket) {
			fence = append(fence, rec.Bucket)
		}
	}
	progress := make([][]int64, len(fence))
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
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("fence buckets: %w", err)
	}
	for i, bucket := range fence {
		u[bucket] = progress[i]
	}
	if len(fence) > 0 {
		if err := b.Keep(ctx); err != nil {
			for _, bucket := range fence {
				r.tx.Release(bucket)
				delete(u, bucket)
			}
			return nil, nil, fmt.Errorf("batch lost its buckets while fencing them: %w", err)
		}
	}
	var settled []int64
	send := make([]source.Record, 0, len(recs))
	for _, bucket := range bucketsOf(recs) {
		settled = append(settled, u[bucket]...)
	}
	for _, rec := range recs {
		if _, found := slices.BinarySearch(u[rec.Bucket], rec.Seq); !found {
			send = append(send, rec)
		}
	}
	if n := len(recs) - len(send); n > 0 {
		r.log.Info("settling events a committed transaction carried", "count", n)
	}
	return send, settled, nil
}

// sendTx returns the batch's send: one transaction per bucket, all at once. Each
// transaction's progress is its sent rows with the bucket's rows not yet settled.
func (r *Relay) sendTx(recs []source.Record, u units) sendFunc {
	return func(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) error {
		byBucket := map[int][]int{} // indexes into msgs
		for i := range recs {
			byBucket[recs[i].Bucket] = append(byBucket[recs[i].Bucket], i)
		}
		errs := make([]error, len(msgs))
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			sent = map[int][]int64{}
		)
		for bucket, idx := range byBucket {
			wg.Go(func() {
				m, a := make([]outbox.Message, len(idx)), make([]outbox.Ack, len(idx))
				for j, i := range idx {
					m[j] = msgs[i]
				}
				progress := func(ok []bool) []byte {
					seqs := slices.Clone(u[bucket])
					for j, i := range idx {
						if ok[j] {
							seqs = append(seqs, recs[i].Seq)
						}
					}
					slices.Sort(seqs)
					return tableProgress(slices.Compact(seqs))
				}
				res := perMessage(r.tx.PublishTx(ctx, bucket, m, a, progress), len(idx))
				mu.Lock()
				defer mu.Unlock()
				for j, i := range idx {
					errs[i], acks[i] = res[j], a[j]
					if res[j] == nil {
						sent[bucket] = append(sent[bucket], recs[i].Seq)
					}
				}
				if len(sent[bucket]) == 0 && errors.Join(res...) != nil {
					sent[bucket] = nil // no commit: the unit is fenced again before its next batch
				}
			})
		}
		wg.Wait()
		for bucket, seqs := range sent {
			if seqs == nil {
				delete(u, bucket)
				continue
			}
			seqs = append(seqs, u[bucket]...)
			slices.Sort(seqs)
			u[bucket] = slices.Compact(seqs)
		}
		if errors.Join(errs...) == nil {
			return nil
		}
		return &outbox.BatchError{Errs: errs}
	}
}

// settled forgets the unsettled rows of the batch's buckets once the database has
// settled them.
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
