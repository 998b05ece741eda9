package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/cloudevent"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// `outbox relay --cloudevents-source` makes each record a CloudEvent the SDK reads, on
// every database and in WAL mode, binary and structured: the attributes come from the
// row as each database stores it (its time's precision, its headers' encoding).
func TestRelayCloudEvents(t *testing.T) {
	mode := map[string]string{"postgres": "binary", "mariadb": "structured", "sqlite": "binary", "wal": "structured"}
	testenv.EachDB(t, func(t *testing.T, db string) { testRelayCloudEvents(t, newCluster(t, db), mode[db]) })
	t.Run("wal", func(t *testing.T) {
		t.Parallel()
		testRelayCloudEvents(t, newWALCluster(t), mode["wal"])
	})
}

func testRelayCloudEvents(t *testing.T, c *cluster, mode string) {
	const n = 50
	ctx := context.Background()
	var msgs []outbox.Message
	for i := range n {
		m := outbox.Message{Topic: c.topic, Key: fmt.Appendf(nil, "order-%d", i%5), Type: "order.placed",
			AggregateType: "order", AggregateID: fmt.Sprint(i), Payload: fmt.Appendf(nil, `{"n":%d}`, i),
			Headers: map[string]string{"tenant": "acme", "X-Request-Id": "r1"}}
		if err := c.o.Write(ctx, m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	r := c.relay("--cloudevents-source", "/orders", "--cloudevents-mode", mode)
	recs := testenv.ConsumeAll(t, c.topic, n, 2*time.Second, 60*time.Second)
	r.stop(t, 15*time.Second)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	ids := map[string]bool{}
	for _, rec := range recs {
		ev, err := cloudevent.Parse(rec)
		if err != nil {
			t.Fatal(err)
		}
		// Binary mode carries the id and time once, in ce_id and ce_time; structured mode
		// keeps the outbox headers beside its JSON.
		id, hasID := testenv.Header(rec, outbox.HeaderEventID)
		if hasID != (mode == "structured") {
			t.Fatalf("%s mode: %s header present: %v", mode, outbox.HeaderEventID, hasID)
		}
		if _, err := uuid.Parse(ev.ID()); err != nil || hasID && ev.ID() != id || ids[ev.ID()] {
			t.Fatalf("%s mode: id %q: want each event's own UUID (header %q)", mode, ev.ID(), id)
		}
		ids[ev.ID()] = true
		if ev.Source() != "/orders" || ev.Type() != "order.placed" || time.Since(ev.Time()) > 10*time.Minute ||
			ev.DataContentType() != "application/json" || ev.Extensions()["tenant"] != "acme" || len(ev.Extensions()) != 1 {
			t.Fatalf("%s mode: event %s, want the row's attributes and the tenant extension alone", mode, ev)
		}
		var n int
		if _, err := fmt.Sscanf(string(ev.Data()), `{"n":%d}`, &n); err != nil || ev.Subject() != fmt.Sprint(n) {
			t.Fatalf("%s mode: data %q, subject %q: want the payload, and its aggregate as subject", mode, ev.Data(), ev.Subject())
		}
	}
	t.Logf("%s mode: %d records, each a valid CloudEvent", mode, n)
}
