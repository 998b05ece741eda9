package outboxkafka

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/kafkarecord"
)

// CloudEvents makes each record a CloudEvent 1.0 under the Kafka protocol binding, so
// that consumers built on a CloudEvents SDK read it as one. In binary mode the id, type,
// subject and time go in their ce_* headers instead of outbox-event-id, -event-type,
// -aggregate-id and -occurred-at (the inbox reads ce_id); the other outbox-* headers
// stay. A message's headers whose names are valid attribute names (lower-case letters
// and digits, at most 20) are also extensions, traceparent among them. Structured mode
// keeps every header.
type CloudEvents struct {
	// Source is the source attribute: a URI reference that names the producer, such
	// as "https://orders.example.com" or "/orders". Required.
	Source string
	// Structured puts the whole event into the record's value as
	// application/cloudevents+json. Default false: binary mode, the attributes in ce_*
	// headers and the payload as the value, untouched.
	Structured bool
	// ContentType is the payload's media type (datacontenttype) when a message has no
	// content-type header. Default DefaultCloudEventsContentType.
	ContentType string

	source, contentType []byte // the attributes' bytes, shared by every record
	json                bool   // ContentType is JSON
}

// DefaultCloudEventsContentType is CloudEvents.ContentType's default.
const DefaultCloudEventsContentType = "application/json"

// ceContentType is the header that carries datacontenttype in binary mode, and the
// structured format's media type in structured mode.
const (
	ceContentType   = "content-type"
	ceMaxAttrLength = 20
)

var (
	ceSpecVersion    = []byte("1.0")
	ceStructuredType = []byte("application/cloudevents+json; charset=UTF-8")
)

// errNoEventType is the failure of a message without the type CloudEvents require.
var errNoEventType = errors.New("a CloudEvent needs a type: set outbox.Message.Type when writing the event")

// Validate reports what New would refuse in c, naming the field and the fix.
func (c *CloudEvents) Validate() error {
	_, err := c.check()
	return err
}

// check validates c and returns a copy with its defaults filled.
func (c *CloudEvents) check() (*CloudEvents, error) {
	if c == nil {
		return nil, nil
	}
	cc := *c
	if cc.Source == "" {
		return nil, fmt.Errorf("%w: outboxkafka: CloudEvents.Source is required: a URI reference naming the producer, such as /orders", outbox.ErrInvalidConfig)
	}
	if _, err := url.Parse(cc.Source); err != nil {
		return nil, fmt.Errorf("%w: outboxkafka: CloudEvents.Source %q is not a URI reference: %v", outbox.ErrInvalidConfig, cc.Source, err)
	}
	if cc.ContentType == "" {
		cc.ContentType = DefaultCloudEventsContentType
	}
	if _, _, err := mime.ParseMediaType(cc.ContentType); err != nil {
		return nil, fmt.Errorf("%w: outboxkafka: CloudEvents.ContentType %q: %v", outbox.ErrInvalidConfig, cc.ContentType, err)
	}
	cc.source, cc.contentType, cc.json = []byte(cc.Source), []byte(cc.ContentType), isJSON(cc.ContentType)
	return &cc, nil
}

// apply turns rec, built from m by record, into a CloudEvent. In binary mode
// the outbox headers that hold the id, type, subject and time, already in the
// attributes' formats, become their ce_* headers (the same bytes, under the attribute's
// name, once: a record carries no attribute twice); the other headers stay, and those
// that are extensions are repeated as ce_* headers.
func (c *CloudEvents) apply(rec *kgo.Record, m *outbox.Message) error {
	if m.Type == "" {
		return errNoEventType
	}
	if c.Structured {
		return c.structured(rec, m)
	}
	hs := rec.Headers // built by record, with room for what binary mode adds
	for i := range len(hs) {
		switch h := &hs[i]; h.Key { // a switch, not a map: this runs for every header of every record
		case outbox.HeaderEventID:
			h.Key = "ce_id"
		case outbox.HeaderEventType:
			h.Key = "ce_type"
		case outbox.HeaderAggregateID:
			h.Key = "ce_subject"
		case outbox.HeaderOccurredAt:
			h.Key = "ce_time"
		case outbox.HeaderAggregateType:
		default:
			if isExtension(h.Key) {
				hs = append(hs, kgo.RecordHeader{Key: "ce_" + h.Key, Value: h.Value})
			}
		}
	}
	hs = append(hs, kgo.RecordHeader{Key: "ce_specversion", Value: ceSpecVersion}, kgo.RecordHeader{Key: "ce_source", Value: c.source})
	if _, ok := m.Headers[ceContentType]; !ok {
		hs = append(hs, kgo.RecordHeader{Key: ceContentType, Value: c.contentType})
	}
	rec.Headers = hs
	return nil
}

// record builds m's Kafka record (kafkarecord.New) and, unless c is nil, makes it a
// CloudEvent; in binary mode the record is built with room for the extensions and the
// three headers apply adds, so that it adds them without copying the others.
func (c *CloudEvents) record(m *outbox.Message) (*kgo.Record, error) {
	switch {
	case c == nil:
		return kafkarecord.New(m), nil
	case c.Structured:
		rec := kafkarecord.New(m)
		return rec, c.apply(rec, m)
	default:
		rec := kafkarecord.WithRoom(m, len(m.Headers)+3)
		return rec, c.apply(rec, m)
	}
}

// structured replaces rec's value by the event in JSON format, and its content-type
// header (if any) by the format's.
func (c *CloudEvents) structured(rec *kgo.Record, m *outbox.Message) error {
	contentType, dataJSON := c.ContentType, c.json
	if ct, ok := m.Headers[ceContentType]; ok {
		contentType, dataJSON = ct, isJSON(ct)
	}
	b := make([]byte, 0, 160+len(c.Source)+len(m.Type)+len(m.AggregateID)+len(contentType)+4*len(m.Payload)/3)
	b = append(b, `{"specversion":"1.0"`...)
	for _, h := range rec.Headers { // the outbox headers hold id and time in the attributes' formats
		switch h.Key {
		case outbox.HeaderEventID:
			b = append(append(append(b, `,"id":"`...), h.Value...), '"')
		case outbox.HeaderOccurredAt:
			b = append(append(append(b, `,"time":"`...), h.Value...), '"')
		}
	}
	b = appendMember(b, "source", c.Source)
	b = appendMember(b, "type", m.Type)
	if m.AggregateID != "" {
		b = appendMember(b, "subject", m.AggregateID)
	}
	b = appendMember(b, "datacontenttype", contentType)
	for _, h := range rec.Headers {
		if isExtension(h.Key) {
			b = appendMember(b, h.Key, string(h.Value))
		}
	}
	switch {
	case m.Payload == nil:
	case dataJSON && json.Valid(m.Payload):
		b = append(append(b, `,"data":`...), m.Payload...)
	default:
		b = base64.StdEncoding.AppendEncode(append(b, `,"data_base64":"`...), m.Payload)
		b = append(b, '"')
	}
	rec.Value = append(b, '}')
	hs := rec.Headers[:0]
	for _, h := range rec.Headers {
		if h.Key != ceContentType {
			hs = append(hs, h)
		}
	}
	rec.Headers = append(hs, kgo.RecordHeader{Key: ceContentType, Value: ceStructuredType})
	return nil
}

// isExtension reports whether a header's name is a valid CloudEvents attribute name
// and not one of the context attributes: lower-case letters and digits, at most 20.
func isExtension(name string) bool { return isAttributeName(name) && !ceReserved[name] }

var ceReserved = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "time": true, "subject": true,
	"datacontenttype": true, "dataschema": true, "data": true, "data_base64": true,
}

func isAttributeName(s string) bool {
	if s == "" || len(s) > ceMaxAttrLength {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// isJSON reports whether a media type is JSON: application/json, text/json or a
// +json suffix.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// appendMember appends ,"key":"value" to a JSON object, value escaped as JSON
// requires (encoding/json's rules, less its HTML escaping).
func appendMember(b []byte, key, value string) []byte {
	b = append(append(append(b, ',', '"'), key...), '"', ':', '"')
	for i := 0; i < len(value); {
		r, size := utf8.DecodeRuneInString(value[i:])
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hex[r>>4], hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = append(b, value[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

const hex = "0123456789abcdef"
