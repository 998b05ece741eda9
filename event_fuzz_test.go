package outbox_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/firstunicorn/outbox"
)

// fuzzEvent is an aggregate event whose every field comes from the fuzzer.
type fuzzEvent struct {
	Type, Aggregate, ID string  `json:"-"`
	Data                string  `json:"data"`
	N                   float64 `json:"n"`
}

func (e fuzzEvent) EventType() string     { return e.Type }
func (e fuzzEvent) AggregateType() string { return e.Aggregate }
func (e fuzzEvent) AggregateID() string   { return e.ID }

// NewMessage never panics; it fails only with ErrInvalidMessage for a bad topic, or
// with encoding/json's error for what JSON cannot hold; what
// it returns carries the event: its JSON (decoding back to the event), its type and
// its aggregate, keyed by the aggregate's ID when there is one.
func FuzzNewMessage(f *testing.F) {
	f.Add("orders", "order.placed", "order", "o-42", "x", 1.5)
	f.Add("", "", "", "", "", 0.0)
	f.Add("a b", "t", "a", "\xff", "\x00\xfe", -1e308)
	f.Add("orders.v1", "t", "", "", "\u2028<>&", 3.0)
	f.Add("orders", "t", "", "", "", math.Inf(1))
	f.Fuzz(func(t *testing.T, topic, typ, aggregate, id, data string, n float64) {
		ev := fuzzEvent{Type: typ, Aggregate: aggregate, ID: id, Data: data, N: n}
		m, err := outbox.NewMessage(topic, ev)
		var unencodable *json.UnsupportedValueError
		if errors.As(err, &unencodable) {
			return // NaN or ±Inf: encoding/json's refusal, passed on
		}
		if err != nil {
			if !errors.Is(err, outbox.ErrInvalidMessage) || outbox.ValidateTopic(topic) == nil {
				t.Fatalf("NewMessage(%q): %v; only a bad topic may fail, with ErrInvalidMessage", topic, err)
			}
			return
		}
		if m.Topic != topic || m.Type != typ || m.AggregateType != aggregate || m.AggregateID != id {
			t.Fatalf("message %+v does not carry the event %+v", m, ev)
		}
		if (id == "") != (m.Key == nil) || (id != "" && string(m.Key) != id) {
			t.Fatalf("key %q for aggregate id %q", m.Key, id)
		}
		var back fuzzEvent
		if err := json.Unmarshal(m.Payload, &back); err != nil {
			t.Fatalf("payload %q is not JSON: %v", m.Payload, err)
		}
		want, _ := json.Marshal(ev)
		if string(want) != string(m.Payload) {
			t.Fatalf("payload %q, want encoding/json's %q", m.Payload, want)
		}
	})
}
