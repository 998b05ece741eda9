package outbox

import (
	"fmt"
	"strings"
	"time"
)

// Limits bounds what Write accepts, so an event the broker would refuse is rejected in
// the caller's transaction instead of failing later in the relay. Zero fields take the
// defaults below.
type Limits struct {
	// MaxKeyBytes is the largest key. Default 4096.
	MaxKeyBytes int
	// MaxPayloadBytes is the largest payload. Default 1,000,000: Kafka's default
	// message.max.bytes (1,048,588) less room for key and headers. Raise it only together
	// with the broker's and the topic's max.message.bytes.
	MaxPayloadBytes int
	// MaxHeadersBytes is the largest total of header names and values. Default 65536.
	MaxHeadersBytes int
}

// Default limits.
const (
	DefaultMaxKeyBytes     = 4096
	DefaultMaxPayloadBytes = 1_000_000
	DefaultMaxHeadersBytes = 65536
)

// WithDefaults returns l with zero fields replaced by their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxKeyBytes == 0 {
		l.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if l.MaxPayloadBytes == 0 {
		l.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if l.MaxHeadersBytes == 0 {
		l.MaxHeadersBytes = DefaultMaxHeadersBytes
	}
	return l
}

// Validate reports whether the limits themselves make sense.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxKeyBytes", l.MaxKeyBytes}, {"MaxPayloadBytes", l.MaxPayloadBytes}, {"MaxHeadersBytes", l.MaxHeadersBytes}} {
		if f.v < 0 {
			return fmt.Errorf("%w: Limits.%s is %d: use a positive size, or 0 for the default", ErrInvalidConfig, f.name, f.v)
		}
	}
	return nil
}

// HeaderPrefix starts the names of the headers the outbox itself sets.
const HeaderPrefix = "outbox-"

// The headers the relay adds to every Kafka record, after the message's own (in name
// order), and the inbox reads: the contract between the two halves.
const (
	HeaderEventID       = HeaderPrefix + "event-id"       // the message's ID, a UUID
	HeaderEventType     = HeaderPrefix + "event-type"     // when the message has a Type
	HeaderAggregateType = HeaderPrefix + "aggregate-type" // when it has an AggregateType
	HeaderAggregateID   = HeaderPrefix + "aggregate-id"   // when it has an AggregateID
	HeaderOccurredAt    = HeaderPrefix + "occurred-at"    // RFC 3339 with nanoseconds, UTC
)

// Validate checks m against lim (zero fields = defaults) and names the first problem.
func (m *Message) Validate(lim Limits) error {
	lim = lim.WithDefaults()
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	if len(m.Key) > lim.MaxKeyBytes {
		return fmt.Errorf("%w: key is %d bytes, over the %d-byte limit: use a shorter key or raise Limits.MaxKeyBytes",
			ErrInvalidMessage, len(m.Key), lim.MaxKeyBytes)
	}
	if len(m.Payload) > lim.MaxPayloadBytes {
		return fmt.Errorf("%w: payload is %d bytes, over the %d-byte limit: store large data elsewhere and send a reference, or raise Limits.MaxPayloadBytes with the broker's max.message.bytes",
			ErrInvalidMessage, len(m.Payload), lim.MaxPayloadBytes)
	}
	size := 0
	for k, v := range m.Headers {
		if k == "" {
			return fmt.Errorf("%w: header with an empty name: give every header a name", ErrInvalidMessage)
		}
		if strings.HasPrefix(k, HeaderPrefix) {
			return fmt.Errorf("%w: header %q uses the reserved prefix %q: rename it", ErrInvalidMessage, k, HeaderPrefix)
		}
		size += len(k) + len(v)
	}
	if size > lim.MaxHeadersBytes {
		return fmt.Errorf("%w: headers are %d bytes, over the %d-byte limit: send fewer or smaller headers, or raise Limits.MaxHeadersBytes",
			ErrInvalidMessage, size, lim.MaxHeadersBytes)
	}
	if m.OccurredAt.IsZero() {
		return fmt.Errorf("%w: OccurredAt is zero: set it, or let Write set it", ErrInvalidMessage)
	}
	if y := m.OccurredAt.Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%w: OccurredAt %s is outside years 1-9999", ErrInvalidMessage, m.OccurredAt.Format(time.RFC3339))
	}
	return nil
}

// ValidateTopic reports whether Kafka accepts name as a topic name: 1 to 249 characters
// of ASCII letters, digits, '.', '_' and '-', and neither "." nor "..".
func ValidateTopic(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty topic: set Message.Topic", ErrInvalidMessage)
	case len(name) > 249:
		return fmt.Errorf("%w: topic is %d characters, Kafka allows at most 249", ErrInvalidMessage, len(name))
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic %q is reserved by Kafka: choose another name", ErrInvalidMessage, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic %q has character %q at %d: Kafka allows only ASCII letters, digits, '.', '_' and '-'",
				ErrInvalidMessage, name, c, i)
		}
	}
	return nil
}
