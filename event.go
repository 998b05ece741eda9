package outbox

import (
	"encoding/json"
	"fmt"
)

// Event is an integration event that NewMessage can turn into a Message. Its JSON
// encoding (encoding/json) becomes the payload.
type Event interface {
	// EventType names the event, e.g. "order.created".
	EventType() string
}

// AggregateEvent is an Event about one entity. NewMessage uses AggregateID as the Kafka
// key, so an entity's events stay in order.
type AggregateEvent interface {
	Event
	AggregateType() string
	AggregateID() string
}

// NewMessage encodes ev with encoding/json into a Message for topic. When ev is an
// AggregateEvent, the message carries its aggregate and is keyed by its AggregateID.
// ID and OccurredAt are left zero for Write to fill in.
func NewMessage(topic string, ev Event) (Message, error) {
	return EncodeMessage(topic, ev, func(ev Event) ([]byte, error) { return json.Marshal(ev) })
}

// EncodeMessage is NewMessage with the payload encoded by encode instead of
// encoding/json: a schema registry's serde (outboxschema), say.
func EncodeMessage(topic string, ev Event, encode func(Event) ([]byte, error)) (Message, error) {
	if ev == nil {
		return Message{}, fmt.Errorf("%w: nil event", ErrInvalidMessage)
	}
	if err := ValidateTopic(topic); err != nil {
		return Message{}, err
	}
	payload, err := encode(ev)
	if err != nil {
		return Message{}, fmt.Errorf("outbox: encode %s event: %w", ev.EventType(), err)
	}
	m := Message{Topic: topic, Type: ev.EventType(), Payload: payload}
	if ae, ok := ev.(AggregateEvent); ok {
		m.AggregateType, m.AggregateID = ae.AggregateType(), ae.AggregateID()
		if m.AggregateID != "" {
			m.Key = []byte(m.AggregateID)
		}
	}
	return m, nil
}
