// Package outboxtest helps an application's own tests check what its transactions
// wrote to the outbox, on either driver and any of the three databases, as rivertest
// does for River's jobs. The assertions read the outbox table through the test's
// transaction, so they see its uncommitted writes:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		if err := orders.Place(ctx, tx, order); err != nil { // writes its event with store.Write
//			return err
//		}
//		outboxtest.RequireWrittenTx(ctx, t, store, tx, outboxtest.Want{
//			Topic: "orders", Type: "order.placed", Key: []byte("order-42"),
//			Payload: []byte(`{"order_id": 42, "total": 1999}`),
//		})
//		return nil
//	})
//
// They see the events the outbox table holds as the transaction sees them: its own
// writes, and the events committed before it that no relay has published yet (at most
// 1000 in all). A test gets clear results from an outbox of its own, or one no relay
// reads. WAL mode writes no rows: test an application's writes with a store in table
// mode, where Write validates and stores each event as in WAL mode.
package outboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxstore"
)

// maxEvents bounds what an assertion reads.
const maxEvents = 1000

// Want describes an expected event: each field that is set must match, and the zero
// value of a field matches anything.
type Want struct {
	Topic, Type                string
	Key                        []byte
	AggregateType, AggregateID string
	// Payload must equal the event's payload; where both are JSON they are compared as
	// JSON values, so key order and spacing do not matter.
	Payload []byte
	// Headers must each be among the event's headers, with that value.
	Headers map[string]string
}

// WrittenTx returns the pending events of store's outbox as tx sees them, in write
// order: tx's own writes, and those committed before it.
func WrittenTx[TTx any](ctx context.Context, store *outboxstore.Store[TTx], tx TTx) ([]outbox.Message, error) {
	return sqldb.Pending(ctx, store, tx, maxEvents)
}

// TB is the part of testing.TB the assertions use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// RequireWrittenTx fails t unless exactly one of the events WrittenTx returns matches
// want, and returns that event.
func RequireWrittenTx[TTx any](ctx context.Context, t TB, store *outboxstore.Store[TTx], tx TTx, want Want) outbox.Message {
	t.Helper()
	msgs := written(ctx, t, store, tx)
	var found []outbox.Message
	for _, m := range msgs {
		if want.match(&m) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("outboxtest: %d events match %s, want 1; written: %s", len(found), want, list(msgs))
		return outbox.Message{}
	}
	return found[0]
}

// RequireManyWrittenTx fails t unless the events WrittenTx returns are as many as wants
// and each matches the want in its place, and returns them.
func RequireManyWrittenTx[TTx any](ctx context.Context, t TB, store *outboxstore.Store[TTx], tx TTx, wants ...Want) []outbox.Message {
	t.Helper()
	msgs := written(ctx, t, store, tx)
	if len(msgs) != len(wants) {
		t.Fatalf("outboxtest: %d events written, want %d; written: %s", len(msgs), len(wants), list(msgs))
		return nil
	}
	for i := range msgs {
		if !wants[i].match(&msgs[i]) {
			t.Fatalf("outboxtest: event %d is %s, want %s; written: %s", i, describe(&msgs[i]), wants[i], list(msgs))
			return nil
		}
	}
	return msgs
}

// RequireNotWrittenTx fails t if any event WrittenTx returns matches want.
func RequireNotWrittenTx[TTx any](ctx context.Context, t TB, store *outboxstore.Store[TTx], tx TTx, want Want) {
	t.Helper()
	for _, m := range written(ctx, t, store, tx) {
		if want.match(&m) {
			t.Fatalf("outboxtest: an event matches %s, want none: %s", want, describe(&m))
			return
		}
	}
}

func written[TTx any](ctx context.Context, t TB, store *outboxstore.Store[TTx], tx TTx) []outbox.Message {
	t.Helper()
	msgs, err := WrittenTx(ctx, store, tx)
	if err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	return msgs
}

func (w Want) match(m *outbox.Message) bool {
	if (w.Topic != "" && w.Topic != m.Topic) || (w.Type != "" && w.Type != m.Type) ||
		(w.Key != nil && !bytes.Equal(w.Key, m.Key)) || (w.AggregateType != "" && w.AggregateType != m.AggregateType) ||
		(w.AggregateID != "" && w.AggregateID != m.AggregateID) || (w.Payload != nil && !samePayload(w.Payload, m.Payload)) {
		return false
	}
	for k, v := range w.Headers {
		if got, ok := m.Headers[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// samePayload compares a and b as JSON values where both are JSON, else byte for byte.
func samePayload(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil {
		return reflect.DeepEqual(va, vb)
	}
	return bytes.Equal(a, b)
}

// String describes w's set fields, for failures.
func (w Want) String() string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s %q", name, v))
		}
	}
	add("topic", w.Topic)
	add("type", w.Type)
	if w.Key != nil {
		parts = append(parts, fmt.Sprintf("key %q", w.Key))
	}
	add("aggregate type", w.AggregateType)
	add("aggregate id", w.AggregateID)
	if w.Payload != nil {
		parts = append(parts, fmt.Sprintf("payload %q", w.Payload))
	}
	if len(w.Headers) > 0 {
		parts = append(parts, fmt.Sprintf("headers %v", w.Headers))
	}
	if len(parts) == 0 {
		return "{any event}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func describe(m *outbox.Message) string {
	return fmt.Sprintf("{topic %q, type %q, key %q, payload %q}", m.Topic, m.Type, m.Key, m.Payload)
}

func list(msgs []outbox.Message) string {
	if len(msgs) == 0 {
		return "none"
	}
	parts := make([]string, len(msgs))
	for i := range msgs {
		parts[i] = describe(&msgs[i])
	}
	return strings.Join(parts, ", ")
}
