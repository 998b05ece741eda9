package outboxkafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// CloudEvents makes each record a CloudEvent 1.0 under the Kafka protocol binding, so
// that consumers built on a CloudEvents SDK read it as one. The outbox-* headers stay:
// the inbox and the traces need them. A message's headers whose names are valid
// attribute names (lower-case letters and digits, at most 20) are also extensions,
// traceparent among them.
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
}

// DefaultCloudEventsContentType is CloudEvents.ContentType's default.
const DefaultCloudEventsContentType = "application/json"

// ceContentType is the header that carries datacontenttype in binary mode, and the
// structured format's media type in structured mode.
const (
	ceContentType   = "content-type"
	ceStructured    = "application/cloudevents+json; charset=UTF-8"
	ceMaxAttrLength = 20
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
	return &cc, nil
}

// apply turns rec, built from m, into a CloudEvent.
func (c *CloudEvents) apply(rec *kgo.Record, m *outbox.Message) error {
	if m.Type == "" {
		return errNoEventType
	}
	contentType := m.Headers[ceContentType]
	if contentType == "" {
		contentType = c.ContentType
	}
	if c.Structured {
		return c.structured(rec, m, contentType)
	}
	attrs := [...]struct{ k, v string }{
		{"ce_specversion", "1.0"}, {"ce_id", m.ID.String()}, {"ce_source", c.Source}, {"ce_type", m.Type},
		{"ce_time", m.OccurredAt.UTC().Format(time.RFC3339Nano)}, {"ce_subject", m.AggregateID},
	}
	for _, a := range attrs {
		if a.v != "" {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: a.k, Value: []byte(a.v)})
		}
	}
	for _, name := range extensions(m) {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: "ce_" + name, Value: []byte(m.Headers[name])})
	}
	if _, ok := m.Headers[ceContentType]; !ok {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: ceContentType, Value: []byte(contentType)})
	}
	return nil
}

// structured replaces rec's value by the event in JSON format, and its content-type
// header (if any) by the format's.
func (c *CloudEvents) structured(rec *kgo.Record, m *outbox.Message, contentType string) error {
	ev := map[string]any{
		"specversion": "1.0", "id": m.ID.String(), "source": c.Source, "type": m.Type,
		"time": m.OccurredAt.UTC().Format(time.RFC3339Nano), "datacontenttype": contentType,
	}
	if m.AggregateID != "" {
		ev["subject"] = m.AggregateID
	}
	for _, name := range extensions(m) {
		ev[name] = m.Headers[name]
	}
	switch {
	case m.Payload == nil:
	case isJSON(contentType) && json.Valid(m.Payload):
		ev["data"] = json.RawMessage(m.Payload)
	default:
		ev["data_base64"] = m.Payload // encoding/json writes []byte as base64
	}
	value, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode CloudEvent: %w", err)
	}
	rec.Value = value
	hs := rec.Headers[:0]
	for _, h := range rec.Headers {
		if h.Key != ceContentType {
			hs = append(hs, h)
		}
	}
	rec.Headers = append(hs, kgo.RecordHeader{Key: ceContentType, Value: []byte(ceStructured)})
	return nil
}

// extensions are m's header names that are valid CloudEvents attribute names and not
// one of the context attributes, in name order (kafkarecord sorted the headers).
func extensions(m *outbox.Message) []string {
	var names []string
	for name := range m.Headers {
		if isAttributeName(name) && !ceReserved[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

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
