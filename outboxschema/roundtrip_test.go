package outboxschema_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/outboxschema/jsonschema"
	"github.com/firstunicorn/outbox/outboxschema/protobuf"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/shoppb"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

type orderPlaced struct {
	ID       string `avro:"id" json:"id"`
	Total    int64  `avro:"total" json:"total"`
	Currency string `avro:"currency" json:"currency"`
}

func (orderPlaced) EventType() string     { return "order.placed" }
func (orderPlaced) AggregateType() string { return "order" }
func (o orderPlaced) AggregateID() string { return o.ID }

const (
	orderAvro = `{"type":"record","name":"OrderPlaced","namespace":"shop","fields":[
		{"name":"id","type":"string"},{"name":"total","type":"long"},
		{"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD"]}}]}`
	orderJSON = `{"title":"OrderPlaced","type":"object","required":["id","total","currency"],
		"properties":{"id":{"type":"string"},"total":{"type":"integer"},"currency":{"enum":["EUR","USD"]}}}`
)

// Each format round-trips: the writer encodes each event in its transaction, the relay
// carries the bytes from each database (and WAL mode) to Kafka unchanged, and the inbox
// decodes them by their schema id into the handler's type. An event its schema refuses
// is never stored, and a record no schema decodes is dead-lettered naming why.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, db := range append(testenv.Databases, "wal") {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			t.Run("avro", func(t *testing.T) {
				roundTrip(t, db, must(avro.Codec[orderPlaced](orderAvro)), order, orderPlaced{ID: "o", Currency: "XYZ"},
					func(a, b orderPlaced) bool { return a == b })
			})
			t.Run("jsonschema", func(t *testing.T) {
				roundTrip(t, db, must(jsonschema.Codec[orderPlaced](orderJSON)), order, orderPlaced{ID: "o", Currency: "XYZ"},
					func(a, b orderPlaced) bool { return a == b })
			})
			t.Run("protobuf", func(t *testing.T) {
				roundTrip(t, db, must(protobuf.Codec[*shoppb.ShipmentSent](shoppb.Proto)), func(i int) *shoppb.ShipmentSent {
					return &shoppb.ShipmentSent{Id: fmt.Sprint("s-", i), WeightGrams: int64(i), To: &shoppb.Address{City: "Lyon"}}
				}, &shoppb.ShipmentSent{Id: "\xff"}, func(a, b *shoppb.ShipmentSent) bool { return proto.Equal(a, b) })
			})
		})
	}
}

func order(i int) orderPlaced {
	return orderPlaced{ID: fmt.Sprint("o-", i), Total: int64(i), Currency: "EUR"}
}

func roundTrip[T outbox.AggregateEvent](t *testing.T, db string, codec outboxschema.Codec, event func(int) T, bad T, equal func(a, b T) bool) {
	const n = 30
	ctx := context.Background()
	var o *testenv.Outbox
	if db == "wal" {
		o = testenv.NewWALOutbox(t, outbox.Limits{})
	} else {
		o = testenv.NewOutbox(t, db, outbox.Limits{})
	}
	topic := testenv.Topic(t, 2, nil)
	serde := must(outboxschema.New(testenv.Registry(t), &outboxschema.Config{AutoRegister: true}, codec))
	for i := range n {
		msg, err := serde.NewMessage(ctx, topic, event(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Write(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := serde.NewMessage(ctx, topic, bad); err == nil {
		t.Fatalf("%T %+v fits its schema; want it refused before the write", bad, bad)
	}
	// A record of another producer, in no schema's wire format.
	if err := o.Write(ctx, outbox.Message{Topic: topic, Key: []byte("poison"), Type: "x", Payload: []byte(`{"id":"p"}`)}); err != nil {
		t.Fatal(err)
	}
	client := testenv.Client(t, outboxkafka.ProducerOpts()...)
	r, err := relay.New(o.Store, must(outboxkafka.New(client, nil)), &relay.Config{LeaseTTL: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, r)

	got, dead := consume[T](t, serde, topic, n)
	for i := range n {
		if !equal(got[event(i).AggregateID()], event(i)) {
			t.Fatalf("event %d: got %+v, want %+v", i, got[event(i).AggregateID()], event(i))
		}
	}
	if len(dead) != 1 || !strings.Contains(dead[0].Error, "not in the schema registry's wire format") {
		t.Fatalf("dead letters %+v: want the poison record, its error naming the wire format", dead)
	}
}

// consume runs an inbox on SQLite whose handler is outboxschema.Handler, until it has
// n events and one dead letter, and returns the events by aggregate id.
func consume[T outbox.AggregateEvent](t *testing.T, serde *outboxschema.Serde, topic string, n int) (map[string]T, []inbox.DeadEvent) {
	db := must(sql.Open("sqlite", filepath.Join(t.TempDir(), "inbox.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate"))
	t.Cleanup(func() { _ = db.Close() })
	store := must(inbox.New(outboxsql.New(db, outboxstore.SQLite), nil))
	if _, err := store.Admin().Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]T{}
	handler := outboxschema.Handler(serde, func(_ context.Context, _ *sql.Tx, m *inbox.Message, v T) error {
		mu.Lock()
		defer mu.Unlock()
		got[string(m.Key)] = v
		return nil
	})
	c := must(inbox.NewConsumer(store, handler, testenv.Client(t, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())),
		&inbox.ConsumerConfig{Group: testenv.Name("group"), Topics: []string{topic}, Logger: slog.New(slog.DiscardHandler)}))
	stop := testenv.Start(t, c)
	defer stop()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		dead, err := store.Admin().Dead(context.Background(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		have := len(got)
		mu.Unlock()
		if have == n && len(dead) == 1 {
			return got, dead
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d of %d events, dead letters %+v", have, n, dead)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
