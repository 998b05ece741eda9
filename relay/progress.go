package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/firstunicorn/outbox/relay/source"
)

// Progress is what an exactly-once relay writes into each Kafka transaction, beside the
// events, so that whoever publishes the unit next knows what that transaction carried:
// the relay that settles the rows after a crash, or the next owner of the bucket. Only a
// unit's latest committed progress is read back, so each one carries everything still
// unsettled.
//
// Encoding: a version byte (1), a kind byte, then unsigned varints. A table's progress
// ('t') is the set of rows, by seq, that committed transactions carried and the database
// may not have settled yet: rows committed late with a lower seq are published after
// higher ones, so no high-water mark would do. A stream's progress ('s') is the position
// through which every record is handled (sent or dead-lettered), then the records sent
// past it.
const (
	progressVersion = 1
	kindTable       = 't'
	kindStream      = 's'
)

var errProgress = errors.New("malformed progress record")

// tableProgress encodes a set of seqs; seqs must be sorted and distinct.
func tableProgress(seqs []int64) []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen64*(len(seqs)+1)/4)
	b = append(b, progressVersion, kindTable)
	b = binary.AppendUvarint(b, uint64(len(seqs)))
	var prev int64
	for _, s := range seqs {
		b = binary.AppendUvarint(b, uint64(s-prev))
		prev = s
	}
	return b
}

// streamProgress encodes a stream's progress; sent must be in stream order, after done.
func streamProgress(done source.Pos, sent []source.Pos) []byte {
	b := make([]byte, 0, 16+4*len(sent))
	b = append(b, progressVersion, kindStream)
	b = binary.AppendUvarint(b, done.Commit)
	b = binary.AppendUvarint(b, uint64(done.Index))
	b = binary.AppendUvarint(b, uint64(len(sent)))
	prev := done.Commit
	for _, p := range sent {
		b = binary.AppendUvarint(b, p.Commit-prev)
		b = binary.AppendUvarint(b, uint64(p.Index))
		prev = p.Commit
	}
	return b
}

// progressReader decodes unsigned varints, remembering the first error.
type progressReader struct {
	b   []byte
	err error
}

func (r *progressReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n > 1 && r.b[n-1] == 0 { // overflow, or not the shortest form
		r.err = errProgress
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that the rest of the record, at least min bytes per entry, can hold.
func (r *progressReader) count(min int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.err = errProgress
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *progressReader) header(kind byte) {
	switch {
	case len(r.b) < 2 || r.b[0] != progressVersion:
		r.err = fmt.Errorf("%w: unknown version", errProgress)
	case r.b[1] != kind:
		r.err = fmt.Errorf("%w: of kind %q where %q was expected: was the outbox switched between table and WAL mode?", errProgress, r.b[1], kind)
	default:
		r.b = r.b[2:]
	}
}

func (r *progressReader) end() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%w: %d bytes left over", errProgress, len(r.b))
	}
	return r.err
}

// decodeTableProgress decodes tableProgress's encoding; nil or empty is no progress.
func decodeTableProgress(b []byte) ([]int64, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r := progressReader{b: b}
	r.header(kindTable)
	n := r.count(1)
	seqs := make([]int64, 0, n)
	var prev uint64
	for i := 0; i < n && r.err == nil; i++ {
		d := r.uvarint()
		if i > 0 && d == 0 || prev+d < prev || prev+d > 1<<63-1 {
			r.err = fmt.Errorf("%w: seqs not increasing", errProgress)
		}
		prev += d
		seqs = append(seqs, int64(prev))
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return seqs, nil
}

// decodeStreamProgress decodes streamProgress's encoding; nil or empty is no progress.
func decodeStreamProgress(b []byte) (done source.Pos, sent []source.Pos, err error) {
	if len(b) == 0 {
		return source.Pos{}, nil, nil
	}
	r := progressReader{b: b}
	r.header(kindStream)
	done = source.Pos{Commit: r.uvarint(), Index: index(&r)}
	n := r.count(2)
	prev := done
	for i := 0; i < n && r.err == nil; i++ {
		p := source.Pos{Commit: prev.Commit + r.uvarint(), Index: index(&r)}
		if p.Commit < prev.Commit || p.Compare(prev) <= 0 {
			r.err = fmt.Errorf("%w: positions not increasing", errProgress)
		}
		sent, prev = append(sent, p), p
	}
	if err := r.end(); err != nil {
		return source.Pos{}, nil, err
	}
	return done, sent, nil
}

func index(r *progressReader) uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.err = errProgress
	}
	return uint32(v)
}

// handled reports whether a stream's record at p was handled by the progress.
func handled(p, done source.Pos, sent []source.Pos) bool {
	if p.Compare(done) <= 0 {
		return true
	}
	_, found := slices.BinarySearchFunc(sent, p, source.Pos.Compare)
	return found
}
