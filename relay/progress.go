package relay

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/relay/source"
)

// Progress is what an exactly-once relay writes into each Kafka transaction, beside the
// events, so that whoever publishes the unit next knows what that transaction carried:
// the relay that settles the rows after a crash, or the next owner of the bucket. Only a
// unit's latest committed progress is read back, so each one carries everything still
// unsettled.
//
// Encoding: a version byte (1), a kind byte, then unsigned varints. A table's progress
// ('t') is the set of rows, by seq and event id, that committed transactions carried and
// the database may not have settled yet: rows committed late with a lower seq are
// published after higher ones, so no high-water mark would do. A stream's progress ('s') is the position
// through which every record is handled (sent or dead-lettered), then the records sent
// past it.
const (
	progressVersion = 1
	kindTable       = 't'
	kindStream      = 's'
)

var errProgress = errors.New("malformed progress record")

// carried is a row a committed transaction carried: its seq, and its event's id, so
// that a seq used again (an outbox table made anew) is never taken for it.
type carried struct {
	seq int64
	id  uuid.UUID
}

func compareCarried(a, b carried) int { return cmp.Compare(a.seq, b.seq) }

// tableProgress encodes rows, sorted by seq and distinct.
func tableProgress(rows []carried) []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen64+len(rows)*(3+len(uuid.UUID{})))
	b = append(b, progressVersion, kindTable)
	b = binary.AppendUvarint(b, uint64(len(rows)))
	var prev int64
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(r.seq-prev))
		b = append(b, r.id[:]...)
		prev = r.seq
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
func decodeTableProgress(b []byte) ([]carried, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r := progressReader{b: b}
	r.header(kindTable)
	n := r.count(1 + len(uuid.UUID{}))
	rows := make([]carried, 0, n)
	var prev uint64
	for i := 0; i < n && r.err == nil; i++ {
		d := r.uvarint()
		if i > 0 && d == 0 || prev+d < prev || prev+d > 1<<63-1 {
			r.err = fmt.Errorf("%w: seqs not increasing", errProgress)
		}
		prev += d
		c := carried{seq: int64(prev)}
		if r.err == nil && len(r.b) >= len(c.id) {
			r.b = r.b[copy(c.id[:], r.b):]
		} else if r.err == nil {
			r.err = errProgress
		}
		rows = append(rows, c)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return rows, nil
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
