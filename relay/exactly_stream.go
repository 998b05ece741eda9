package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// streamUnit is the stream's unit of fencing: one relay reads the stream at a time.
const streamUnit = 0

// streamTx is an exactly-once stream's progress: every record through done is handled
// (sent in a committed transaction, or stored as dead), and so are those in sent.
type streamTx struct {
	done source.Pos
	sent []source.Pos // past done, in order
}

// fenceStream makes this relay the stream's only producer, once it holds the slot, and
// reads the progress the last committed transaction left.
func (r *Relay) fenceStream(ctx context.Context) (*streamTx, error) {
	p, err := r.tx.Fence(ctx, streamUnit)
	if err != nil {
		return nil, fmt.Errorf("fence the stream's producer: %w", err)
	}
	done, sent, err := decodeStreamProgress(p)
	if err != nil {
		return nil, err
	}
	return &streamTx{done: done, sent: sent}, nil
}

// unhandled drops the records a committed transaction already carried.
func (s *streamTx) unhandled(recs []source.Record) []source.Record {
	out := recs[:0:0]
	for _, rec := range recs {
		if !handled(rec.Pos, s.done, s.sent) {
			out = append(out, rec)
		}
	}
	return out
}

// with returns the progress once ps are handled too, stretch being the records being
// delivered, in order: done moves over the stretch as far as every record is handled.
func (s *streamTx) with(stretch []source.Record, ps ...source.Pos) streamTx {
	n := streamTx{done: s.done, sent: slices.Clone(s.sent)}
	for _, p := range ps {
		if i, found := slices.BinarySearchFunc(n.sent, p, source.Pos.Compare); !found && p.Compare(n.done) > 0 {
			n.sent = slices.Insert(n.sent, i, p)
		}
	}
	for _, rec := range stretch {
		if !handled(rec.Pos, n.done, n.sent) {
			break
		}
		if rec.Pos.Compare(n.done) > 0 {
			n.done = rec.Pos
		}
	}
	i, _ := slices.BinarySearchFunc(n.sent, n.done, source.Pos.Compare)
	for i < len(n.sent) && n.sent[i].Compare(n.done) <= 0 {
		i++
	}
	n.sent = n.sent[i:]
	return n
}

// sendStream returns a round's send: one transaction, whose progress takes in what it
// sent. A transaction that fails leaves the stream's producer closed, so the relay
// leaves the stream: it fences again only after it holds the slot anew.
func (r *Relay) sendStream(s *streamTx, stretch, recs []source.Record) sendFunc {
	return func(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) error {
		err := r.tx.PublishTx(ctx, streamUnit, msgs, acks, func(ok []bool) []byte {
			n := s.with(stretch, sentPos(recs, ok)...)
			return streamProgress(n.done, n.sent)
		})
		res := perMessage(err, len(msgs))
		ok := make([]bool, len(msgs))
		for i := range res {
			ok[i] = res[i] == nil
		}
		*s = s.with(stretch, sentPos(recs, ok)...)
		return err
	}
}

func sentPos(recs []source.Record, ok []bool) []source.Pos {
	var ps []source.Pos
	for i := range recs {
		if ok[i] {
			ps = append(ps, recs[i].Pos)
		}
	}
	return ps
}

// errLeaveStream ends an exactly-once stream's reading after a transaction failed.
var errLeaveStream = errors.New("a transaction failed: leaving the stream to fence it anew")
