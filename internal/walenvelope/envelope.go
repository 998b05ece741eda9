// Package walenvelope is the content of a WAL-mode event: the bytes a writer passes to
// pg_logical_emit_message and the relay decodes from the replication stream.
//
// Version 1, all integers unsigned varints (encoding/binary) unless noted:
//
//	version   1 byte, 1
//	flags     1 byte; bit 0: redelivered by an operator's retry
//	id        16 bytes, the UUID
//	occurred  signed varint, Unix microseconds
//	topic     length, bytes
//	key       length+1, bytes; 0 = no key (distinct from an empty key)
//	type, aggregate type, aggregate id: length, bytes each
//	headers   count, then name length, name, value length, value; sorted by name
//	payload   length+1, bytes; 0 = no payload
//
// Nothing may follow the payload. A decoder meets a version it does not know with
// ErrVersion and never guesses: the relay dead-letters such an event with that reason.
package walenvelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

// Version is the envelope version Encode writes.
const Version = 1

// FlagRedelivered marks an event re-sent by an operator's retry of a dead letter.
const FlagRedelivered = 1

var (
	// ErrVersion is an envelope of a version this build does not know.
	ErrVersion = errors.New("unknown envelope version")
	// ErrMalformed is an envelope that is cut short or carries bytes past its end.
	ErrMalformed = errors.New("malformed envelope")
)

// Encode appends m's envelope, with flags, to dst.
func Encode(dst []byte, m *outbox.Message, flags byte) []byte {
	dst = append(dst, Version, flags)
	dst = append(dst, m.ID[:]...)
	dst = binary.AppendVarint(dst, m.OccurredAt.UnixMicro())
	dst = appendString(dst, m.Topic)
	dst = appendOptional(dst, m.Key)
	dst = appendString(dst, m.Type)
	dst = appendString(dst, m.AggregateType)
	dst = appendString(dst, m.AggregateID)
	dst = binary.AppendUvarint(dst, uint64(len(m.Headers)))
	names := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		dst = appendString(dst, k)
		dst = appendString(dst, m.Headers[k])
	}
	return appendOptional(dst, m.Payload)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendOptional(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// Decode reads one envelope. The message's byte fields are copies: src may be reused.
func Decode(src []byte) (m outbox.Message, flags byte, err error) {
	if len(src) < 1 {
		return m, 0, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if src[0] != Version {
		return m, 0, fmt.Errorf("%w %d (this relay reads version %d): upgrade the relay to one that reads it", ErrVersion, src[0], Version)
	}
	d := decoder{b: src[1:]}
	flags = d.byte()
	copy(m.ID[:], d.bytes(16))
	m.OccurredAt = time.UnixMicro(d.varint())
	m.Topic = d.string()
	m.Key = d.optional()
	m.Type = d.string()
	m.AggregateType = d.string()
	m.AggregateID = d.string()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) { // each header takes at least two bytes
			d.fail("header count")
		} else {
			m.Headers = make(map[string]string, n)
			for range n {
				k := d.string()
				m.Headers[k] = d.string()
			}
		}
	}
	m.Payload = d.optional()
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Sprintf("%d bytes after the payload", len(d.b)))
	}
	if d.err != nil {
		return outbox.Message{}, 0, d.err
	}
	if m.ID == uuid.Nil {
		return outbox.Message{}, 0, fmt.Errorf("%w: no event id", ErrMalformed)
	}
	return m, flags, nil
}

// decoder reads fields until the first error, then returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if p := d.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("cut short")
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad length")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad time")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes(d.uvarint())) }

func (d *decoder) optional() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	return slices.Clone(d.bytes(n - 1))
}
