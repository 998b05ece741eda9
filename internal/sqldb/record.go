package sqldb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay/source"
)

// RawRecord is a claimed row as every dialect's claim returns it, in this column order:
// seq, id (text), topic, key, key IS NULL, event_type, aggregate_type, aggregate_id,
// payload, payload IS NULL, headers (JSON text), occurred_at (a time, or Unix
// microseconds), attempts, created_at (as occurred_at), bucket. The IS NULL columns keep an empty key or payload apart from none, which
// some drivers return alike: Kafka reads a record without a value as a tombstone.
type RawRecord struct {
	Seq                           int64
	OccurredAt, WrittenAt         Time
	ID, Topic, Type, AggType, Agg string
	Key, Payload                  []byte
	KeyNull, PayloadNull          bool
	Headers                       string
	Attempts, Bucket              int64
}

// Dest returns where Rows.Scan puts the columns.
func (r *RawRecord) Dest() []any {
	return []any{&r.Seq, &r.ID, &r.Topic, &r.Key, &r.KeyNull, &r.Type, &r.AggType, &r.Agg,
		&r.Payload, &r.PayloadNull, &r.Headers, &r.OccurredAt, &r.Attempts, &r.WrittenAt, &r.Bucket}
}

// Record decodes the row. A row that cannot be a message (written by hand, say) keeps
// the reason in DecodeErr, for the relay to dead-letter it.
func (r *RawRecord) Record() source.Record {
	rec := source.Record{Seq: r.Seq, Bucket: int(r.Bucket), Attempts: int(r.Attempts), WrittenAt: time.Time(r.WrittenAt)}
	m := &rec.Message
	m.Topic, m.Key, m.Type, m.AggregateType, m.AggregateID, m.Payload = r.Topic, r.Key, r.Type, r.AggType, r.Agg, r.Payload
	switch {
	case r.KeyNull:
		m.Key = nil
	case m.Key == nil:
		m.Key = []byte{}
	}
	if m.Payload == nil && !r.PayloadNull {
		m.Payload = []byte{}
	}
	m.OccurredAt = time.Time(r.OccurredAt)
	var err error
	if m.ID, err = uuid.Parse(r.ID); err != nil {
		rec.DecodeErr = fmt.Errorf("id %q: %w", r.ID, err)
	}
	if r.PayloadNull {
		rec.DecodeErr = errors.New("payload is NULL: write an empty payload instead")
	}
	if h, err := DecodeHeaders(r.Headers); err != nil {
		rec.DecodeErr = err
	} else {
		m.Headers = h
	}
	if rec.DecodeErr == nil {
		rec.DecodeErr = m.Validate(maxLimits)
	}
	return rec
}

// maxLimits checks what a stored row must satisfy to be sent at all; size limits are the
// writer's business, and the broker has the last word on them.
var maxLimits = outbox.Limits{MaxKeyBytes: math.MaxInt, MaxPayloadBytes: math.MaxInt, MaxHeadersBytes: math.MaxInt}

// DecodeHeaders decodes the headers column, a JSON object of strings ("{}" = none). A
// row written by hand may hold any JSON: anything else is the row's decode error.
func DecodeHeaders(s string) (map[string]string, error) {
	if s == "{}" {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(s), &h); err != nil || h == nil {
		if err == nil {
			err = errors.New("not an object")
		}
		return nil, fmt.Errorf("headers %.200s are not a JSON object of strings: %w", s, err)
	}
	return h, nil
}

// EncodeHeaders is the headers column's value for h.
func EncodeHeaders(h map[string]string) string {
	if len(h) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(h) // a map[string]string always encodes
	return string(b)
}

// PayloadArg keeps an empty payload distinct from NULL, which marks a malformed row.
func PayloadArg(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// ReadRecords runs a dialect's claim and decodes its rows; extra are where columns after
// the RawRecord ones go (read and dropped).
func ReadRecords(ctx context.Context, q Querier, sql string, args []any, extra ...any) ([]source.Record, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		recs []source.Record
		raw  RawRecord
		dest = append(raw.Dest(), extra...)
	)
	for rows.Next() {
		raw = RawRecord{}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		recs = append(recs, raw.Record())
	}
	return recs, rows.Err()
}

// Time scans a time as drivers return it: a time.Time (PostgreSQL's timestamptz, sent
// in binary), or Unix microseconds (the integer MySQL's and SQLite's SQL computes).
type Time time.Time

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*t = Time(v.UTC())
	case int64:
		*t = Time(time.UnixMicro(v).UTC())
	case []byte: // a driver's text form of an integer
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("time %q: %w", v, err)
		}
		*t = Time(time.UnixMicro(n).UTC())
	default:
		return fmt.Errorf("time of type %T", v)
	}
	return nil
}
