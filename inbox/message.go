package inbox

import (
	"encoding/json"
	"fmt"
	"mime"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// Message is one Kafka record as the handler sees it.
type Message struct {
	// ID is the event's id, the inbox's dedupe key within the consumer group: the
	// outbox-event-id header, or what ConsumerConfig.EventID returned.
	ID        string
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
	// Attempt counts the handler's calls for this event, from 1.
	Attempt int
}

// Header is one record header.
type Header struct {
	Key   string `json:"k"`
	Value []byte `json:"v"`
}

// Header returns the value of the first header named key.
func (m *Message) Header(key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func newMessage(r *kgo.Record) *Message {
	m := &Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		m.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			m.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return m
}

// OutboxEventID is the default ConsumerConfig.EventID: the outbox-event-id header, which must
// be a UUID (as go-outbox writes it); without it, a CloudEvent's id (go-outbox's binary
// mode carries the event id there, as would another producer): the ce_id header in
// binary mode, or the id of an application/cloudevents+json value in structured mode.
func OutboxEventID(m *Message) (string, error) {
	v, ok := m.Header(outbox.HeaderEventID)
	if !ok {
		if id, ok := cloudEventID(m); ok {
			return id, nil
		}
		return "", fmt.Errorf("no %s header and no CloudEvent id: the record was not written by go-outbox; set ConsumerConfig.EventID to say which key dedupes it", outbox.HeaderEventID)
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return "", fmt.Errorf("malformed %s header %.64q: %v", outbox.HeaderEventID, v, err)
	}
	return id.String(), nil
}

// cloudEventID is the id of a CloudEvent record, in either mode of the Kafka binding.
func cloudEventID(m *Message) (string, bool) {
	if id, ok := m.Header("ce_id"); ok && id != "" {
		return id, true
	}
	ct, _ := m.Header("content-type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/cloudevents+json" {
		return "", false
	}
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(m.Value, &ev) != nil || ev.ID == "" {
		return "", false
	}
	return ev.ID, true
}

// maxEventID is the longest event id the inbox stores (MySQL indexes 255 characters).
const maxEventID = 255

// eventID applies fn and checks its answer.
func eventID(fn func(*Message) (string, error), m *Message) (string, error) {
	id, err := fn(m)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("empty event id")
	}
	if len(id) > maxEventID {
		return "", fmt.Errorf("event id of %d bytes: at most %d", len(id), maxEventID)
	}
	return id, nil
}

// recordID is the dedupe key of a record without a usable event id: its place in Kafka.
func recordID(m *Message) string {
	return fmt.Sprintf("kafka:%s/%d/%d", m.Topic, m.Partition, m.Offset)
}
