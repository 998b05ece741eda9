package inbox_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
)

func TestOutboxEventID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []inbox.Header
		value   string
		want    string
		err     string
	}{
		{"uuid", []inbox.Header{{Key: outbox.HeaderEventID, Value: []byte("01a22896-85d7-708e-ac5f-61ce2c301dcd")}}, "", "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"upper case, normalised", []inbox.Header{{Key: outbox.HeaderEventID, Value: []byte("01A22896-85D7-708E-AC5F-61CE2C301DCD")}}, "", "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"first of two", []inbox.Header{{Key: "x", Value: []byte("y")}, {Key: outbox.HeaderEventID, Value: []byte("01a22896-85d7-708e-ac5f-61ce2c301dcd")}}, "", "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"missing", []inbox.Header{{Key: "x", Value: []byte("y")}}, "", "", "no outbox-event-id header"},
		{"malformed", []inbox.Header{{Key: outbox.HeaderEventID, Value: []byte("42")}}, "", "", `malformed outbox-event-id header "42"`},
		{"empty", []inbox.Header{{Key: outbox.HeaderEventID}}, "", "", "malformed"},
		{"CloudEvent, binary", []inbox.Header{{Key: "ce_id", Value: []byte("A234-1234")}}, "", "A234-1234", ""},
		{"outbox id first", []inbox.Header{{Key: "ce_id", Value: []byte("other")}, {Key: outbox.HeaderEventID, Value: []byte("01a22896-85d7-708e-ac5f-61ce2c301dcd")}}, "", "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"CloudEvent, structured", []inbox.Header{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=UTF-8")}},
			`{"specversion":"1.0","id":"ev-7","source":"/x","type":"t"}`, "ev-7", ""},
		{"structured without id", []inbox.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}, `{"specversion":"1.0"}`, "", "no CloudEvent id"},
		{"JSON that is no CloudEvent", []inbox.Header{{Key: "content-type", Value: []byte("application/json")}}, `{"id":"x"}`, "", "no outbox-event-id header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inbox.OutboxEventID(&inbox.Message{Headers: tc.headers, Value: []byte(tc.value)})
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("OutboxEventID = %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}

// FuzzOutboxEventID: any headers and value a topic may hold give an id or an error,
// never a panic, and a CloudEvent's id only when no outbox-event-id header is there.
func FuzzOutboxEventID(f *testing.F) {
	f.Add("01a22896-85d7-708e-ac5f-61ce2c301dcd", "", "application/cloudevents+json", `{"id":"x"}`)
	f.Add("", "A234-1234", "", "")
	f.Add("", "", "application/cloudevents+json; charset=UTF-8", `{"specversion":"1.0","id":"ev-7"}`)
	f.Fuzz(func(t *testing.T, outboxID, ceID, contentType, value string) {
		var hs []inbox.Header
		for _, h := range [][2]string{{outbox.HeaderEventID, outboxID}, {"ce_id", ceID}, {"content-type", contentType}} {
			if h[1] != "" {
				hs = append(hs, inbox.Header{Key: h[0], Value: []byte(h[1])})
			}
		}
		id, err := inbox.OutboxEventID(&inbox.Message{Headers: hs, Value: []byte(value)})
		switch {
		case err == nil && id == "":
			t.Fatal("no error and no id")
		case outboxID != "" && err == nil && id != uuid.MustParse(outboxID).String():
			t.Fatalf("id %q, want the outbox-event-id %q", id, outboxID)
		}
	})
}
