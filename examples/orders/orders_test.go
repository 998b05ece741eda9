package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxkafka"
)

// End to end on the real services: each order placed over HTTP reaches Kafka as one
// order.placed event keyed by its id; a rejected order leaves neither row nor event.
func TestOrdersEndToEnd(t *testing.T) {
	testenv.Pool(t) // skip or fail with the services hint when PostgreSQL is missing
	testenv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	topic := testenv.Name("orders")
	a, err := setup(ctx, testenv.DatabaseURL(), testenv.Brokers(), topic)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
		a.close()
	})
	srv := httptest.NewServer(a.mux())
	defer srv.Close()

	placed := map[string]OrderPlaced{}
	for i, body := range []string{
		`{"customer":"ada","total_cents":1999}`,
		`{"customer":"","total_cents":100}`,
		`{"customer":"bob","total_cents":-5}`,
		`not json`,
		`{"customer":"grace","total_cents":4250}`,
	} {
		resp, err := http.Post(srv.URL+"/orders", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		var ev OrderPlaced
		_ = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		want := map[int]int{0: 201, 1: 422, 2: 422, 3: 400, 4: 201}[i]
		if resp.StatusCode != want {
			t.Fatalf("order %d: status %d, want %d", i, resp.StatusCode, want)
		}
		if resp.StatusCode == 201 {
			placed[fmt.Sprint(ev.OrderID)] = ev
		}
	}
	recs := testenv.ConsumeAll(t, topic, len(placed), 2*time.Second, 60*time.Second)
	if len(recs) != len(placed) {
		t.Fatalf("%d events for %d placed orders", len(recs), len(placed))
	}
	for _, r := range recs {
		var ev OrderPlaced
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		want, ok := placed[string(r.Key)]
		if !ok || ev.Customer != want.Customer || ev.TotalCents != want.TotalCents || header(r, outboxkafka.HeaderEventType) != "order.placed" ||
			header(r, outboxkafka.HeaderAggregateID) != string(r.Key) {
			t.Fatalf("event %s = %+v, want %+v", r.Key, ev, want)
		}
	}
}
