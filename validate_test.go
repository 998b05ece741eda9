package outbox_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := outbox.Message{Topic: "orders.v1", Key: []byte("k"), Payload: []byte("{}"), OccurredAt: time.Now()}
	tests := []struct {
		name   string
		edit   func(*outbox.Message)
		lim    outbox.Limits
		wantIn string // "" = valid
	}{
		{"valid", func(*outbox.Message) {}, outbox.Limits{}, ""},
		{"empty topic", func(m *outbox.Message) { m.Topic = "" }, outbox.Limits{}, "empty topic"},
		{"topic with space", func(m *outbox.Message) { m.Topic = "my topic" }, outbox.Limits{}, "Kafka allows only"},
		{"topic dot", func(m *outbox.Message) { m.Topic = ".." }, outbox.Limits{}, "reserved"},
		{"topic too long", func(m *outbox.Message) { m.Topic = strings.Repeat("a", 250) }, outbox.Limits{}, "at most 249"},
		{"topic 249", func(m *outbox.Message) { m.Topic = strings.Repeat("a", 249) }, outbox.Limits{}, ""},
		{"key too long", func(m *outbox.Message) { m.Key = make([]byte, 11) }, outbox.Limits{MaxKeyBytes: 10}, "MaxKeyBytes"},
		{"payload too large", func(m *outbox.Message) { m.Payload = make([]byte, outbox.DefaultMaxPayloadBytes+1) }, outbox.Limits{}, "MaxPayloadBytes"},
		{"payload at limit", func(m *outbox.Message) { m.Payload = make([]byte, outbox.DefaultMaxPayloadBytes) }, outbox.Limits{}, ""},
		{"reserved header", func(m *outbox.Message) { m.Headers = map[string]string{"outbox-event-id": "x"} }, outbox.Limits{}, "reserved prefix"},
		{"empty header name", func(m *outbox.Message) { m.Headers = map[string]string{"": "x"} }, outbox.Limits{}, "empty name"},
		{"headers too large", func(m *outbox.Message) { m.Headers = map[string]string{"a": "12345"} }, outbox.Limits{MaxHeadersBytes: 5}, "MaxHeadersBytes"},
		{"zero time", func(m *outbox.Message) { m.OccurredAt = time.Time{} }, outbox.Limits{}, "OccurredAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate(tt.lim)
			switch {
			case tt.wantIn == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantIn != "" && (!errors.Is(err, outbox.ErrInvalidMessage) || !strings.Contains(err.Error(), tt.wantIn)):
				t.Fatalf("err = %v, want ErrInvalidMessage mentioning %q", err, tt.wantIn)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := (outbox.Limits{MaxKeyBytes: -1}).Validate(); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("negative limit: %v", err)
	}
}

// FuzzValidateTopic checks the topic rule against its definition.
func FuzzValidateTopic(f *testing.F) {
	for _, s := range []string{"orders", "a.b-c_D9", "", ".", "..", "a b", "ünï", strings.Repeat("x", 250)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		err := outbox.ValidateTopic(topic)
		legal := len(topic) >= 1 && len(topic) <= 249 && topic != "." && topic != ".."
		for _, c := range []byte(topic) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				legal = false
			}
		}
		if legal != (err == nil) {
			t.Fatalf("ValidateTopic(%q) = %v, legal = %v", topic, err, legal)
		}
	})
}
