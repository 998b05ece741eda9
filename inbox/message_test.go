package inbox_test

import (
	"strings"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
)

func TestOutboxEventID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []inbox.Header
		want    string
		err     string
	}{
		{"uuid", []inbox.Header{{Key: outbox.HeaderEventID, Value: []byte("01a22896-85d7-708e-ac5f-61ce2c301dcd")}}, "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"upper case, normalised", []inbox.Header{{Key: outbox.HeaderEventID, Value: []byte("01A22896-85D7-708E-AC5F-61CE2C301DCD")}}, "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"first of two", []inbox.Header{{Key: "x", Value: []byte("y")}, {Key: outbox.HeaderEventID, Value: []byte("01a22896-85d7-708e-ac5f-61ce2c301dcd")}}, "01a22896-85d7-708e-ac5f-61ce2c301dcd", ""},
		{"missing", []inbox.Header{{Key: "x", Value: []byte("y")}}, "", "no outbox-event-id header"},
		{"malformed", []inbox.Header{{Key: outbox.HeaderEventID, Value: []byte("42")}}, "", `malformed outbox-event-id header "42"`},
		{"empty", []inbox.Header{{Key: outbox.HeaderEventID}}, "", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inbox.OutboxEventID(&inbox.Message{Headers: tc.headers})
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("OutboxEventID = %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}
