package outbox_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/firstunicorn/outbox"
)

type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Total   int    `json:"total_cents"`
}

func (OrderPlaced) EventType() string       { return "order.placed" }
func (OrderPlaced) AggregateType() string   { return "order" }
func (e OrderPlaced) AggregateID() string   { return e.OrderID }
func (UserSignedUp) EventType() string      { return "user.signed_up" }
func (e unencodable) EventType() string     { return "bad" }
func (BadTopicEvent) EventType() string     { return "x" }
func (BadTopicEvent) AggregateType() string { return "" }
func (BadTopicEvent) AggregateID() string   { return "" }

type UserSignedUp struct{ Email string }
type unencodable struct{ C chan int }
type BadTopicEvent struct{}

func ExampleNewMessage() {
	msg, err := outbox.NewMessage("orders", OrderPlaced{OrderID: "o-42", Total: 1999})
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Topic, string(msg.Key), msg.Type, msg.AggregateType, msg.AggregateID)
	fmt.Println(string(msg.Payload))
	// Output:
	// orders o-42 order.placed order o-42
	// {"order_id":"o-42","total_cents":1999}
}

func TestNewMessage(t *testing.T) {
	t.Parallel()
	m, err := outbox.NewMessage("users", UserSignedUp{Email: "a@b.c"})
	if err != nil || m.Key != nil || m.Type != "user.signed_up" || string(m.Payload) != `{"Email":"a@b.c"}` {
		t.Fatalf("plain event: %+v, %v", m, err)
	}
	if _, err := outbox.NewMessage("t", unencodable{}); err == nil {
		t.Fatal("an event encoding/json rejects must fail")
	}
	if _, err := outbox.NewMessage("bad topic", BadTopicEvent{}); !errors.Is(err, outbox.ErrInvalidMessage) {
		t.Fatalf("bad topic: %v", err)
	}
	if _, err := outbox.NewMessage("t", nil); !errors.Is(err, outbox.ErrInvalidMessage) {
		t.Fatalf("nil event: %v", err)
	}
}

func TestBatchError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	err := &outbox.BatchError{Errs: []error{nil, boom, nil}}
	if !errors.Is(err, boom) || err.Error() != "outbox: publish: 1 of 3 messages failed, first: boom" {
		t.Fatalf("BatchError: %v", err)
	}
}
