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

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// End to end on the real services: each order placed over HTTP reaches Kafka as one
// order.placed event keyed by its id; a rejected order leaves neither row nor event; the
// inventory service applies each event once, a redelivery included, and emits one
// stock.reserved per order.
func TestOrdersEndToEnd(t *testing.T) {
	testenv.Pool(t) // skip or fail with the services hint when PostgreSQL is missing
	testenv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	topic := testenv.Name("orders")
	tp := topics{topic, testenv.Name("stock")}
	a, err := setup(ctx, testenv.DatabaseURL(), testenv.Brokers(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `TRUNCATE customer_orders`); err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	a.start(ctx, &g)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("relays and consumer: %v", err)
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
		`{"customer":"ada","total_cents":1}`,
	} {
		resp, err := http.Post(srv.URL+"/orders", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		var ev OrderPlaced
		_ = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		want := map[int]int{0: 201, 1: 422, 2: 422, 3: 400, 4: 201, 5: 201}[i]
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
		if !ok || ev.Customer != want.Customer || ev.TotalCents != want.TotalCents || header(r, outbox.HeaderEventType) != "order.placed" ||
			header(r, outbox.HeaderAggregateID) != string(r.Key) {
			t.Fatalf("event %s = %+v, want %+v", r.Key, ev, want)
		}
	}
	// One of them delivered again: the inbox drops it.
	if err := a.client.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: recs[0].Key, Value: recs[0].Value, Headers: recs[0].Headers}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stock := testenv.ConsumeAll(t, tp.stock, len(placed), 2*time.Second, 60*time.Second)
	if len(stock) != len(placed) {
		t.Fatalf("%d stock.reserved events for %d orders", len(stock), len(placed))
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.duplicates.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if a.duplicates.Load() != 1 {
		t.Fatalf("the inbox dropped %d duplicates, want 1", a.duplicates.Load())
	}
	got := map[string][2]int64{}
	rows, err := a.pool.Query(ctx, `SELECT customer, orders, total_cents FROM customer_orders`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		var n, total int64
		if err := rows.Scan(&c, &n, &total); err != nil {
			t.Fatal(err)
		}
		got[c] = [2]int64{n, total}
	}
	if want := map[string][2]int64{"ada": {2, 2000}, "grace": {1, 4250}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("customer_orders = %v, want %v: each order applied once", got, want)
	}
}
