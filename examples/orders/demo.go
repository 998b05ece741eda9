package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// runDemo places orders over HTTP, one of them invalid, and prints the chain: the
// order.placed events on Kafka, the inventory service's stock.reserved events, then a
// redelivery of the first order event, which the inbox drops.
func runDemo(ctx context.Context, base string, a *app, tp topics) error {
	consumer, err := kgo.NewClient(kgo.SeedBrokers(a.client.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumeTopics(tp.orders, tp.stock), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	consumer.PollFetches(pollCtx(ctx, time.Second)) // join at the end before placing orders

	orders := []string{
		`{"customer":"ada","total_cents":1999}`,
		`{"customer":"grace","total_cents":4250}`,
		`{"customer":"","total_cents":100}`, // rejected by the database: no order, no event
		`{"customer":"ada","total_cents":999}`,
	}
	placed := map[string]bool{} // order ids: the key of both services' events
	for _, body := range orders {
		resp, err := http.Post(base+"/orders", "application/json", bytes.NewBufferString(body))
		if err != nil {
			return err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("POST /orders %s -> %d %s", body, resp.StatusCode, out)
		if resp.StatusCode == http.StatusCreated {
			var ev OrderPlaced
			if err := json.Unmarshal(out, &ev); err != nil {
				return err
			}
			placed[fmt.Sprint(ev.OrderID)] = true
		}
	}
	fmt.Printf("\nwaiting for %d order.placed events on %q and %d stock.reserved on %q...\n", len(placed), tp.orders, len(placed), tp.stock)
	recs, err := await(ctx, consumer, placed)
	if err != nil {
		return err
	}
	var first *kgo.Record
	for _, r := range recs {
		if r.Topic == tp.orders && first == nil {
			first = r
		}
		fmt.Printf("kafka %s[%d]@%d key=%s type=%s value=%s\n", r.Topic, r.Partition, r.Offset, r.Key,
			header(r, outbox.HeaderEventType), r.Value)
	}
	quiet(ctx, a) // the inbox may still be working through events of earlier runs
	before, err := printCustomers(ctx, a, "\nthe inventory service's table")
	if err != nil {
		return err
	}
	// Kafka delivers at least once: deliver the first event again, as a crash of the
	// consumer before its offset commit would. The inbox finds its record and skips it.
	dups := a.duplicates.Load()
	again := &kgo.Record{Topic: first.Topic, Key: first.Key, Value: first.Value, Headers: first.Headers}
	if err := a.client.ProduceSync(ctx, again).FirstErr(); err != nil {
		return err
	}
	fmt.Printf("\nredelivered %s (%s) by hand...\n", first.Key, header(first, outbox.HeaderEventID))
	for a.duplicates.Load() == dups {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	after, err := printCustomers(ctx, a, "the inbox dropped it as a duplicate; the table")
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the table changed after a duplicate")
	}
	fmt.Println("is unchanged\n\nall events arrived, each applied once; stopping")
	return nil
}

// await polls until both events of each placed order arrived, within 30 s.
func await(ctx context.Context, cl *kgo.Client, placed map[string]bool) ([]*kgo.Record, error) {
	var recs []*kgo.Record
	for len(recs) < 2*len(placed) {
		fs := cl.PollFetches(pollCtx(ctx, 30*time.Second))
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil, ctx.Err()
		}
		if fs.Empty() {
			return nil, fmt.Errorf("only %d of %d events arrived within 30s", len(recs), 2*len(placed))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if placed[string(r.Key)] {
				recs = append(recs, r)
			}
		})
	}
	return recs, nil
}

// quiet waits until the inbox has handled nothing for a second.
func quiet(ctx context.Context, a *app) {
	for last := int64(-1); last != a.handled.Load() && ctx.Err() == nil; {
		last = a.handled.Load()
		time.Sleep(time.Second)
	}
}

// printCustomers prints the inventory service's table and returns what it printed.
func printCustomers(ctx context.Context, a *app, title string) (string, error) {
	rows, err := a.pool.Query(ctx, `SELECT customer, orders, total_cents FROM customer_orders ORDER BY customer`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var c string
		var n, total int64
		if err := rows.Scan(&c, &n, &total); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  customer_orders %-6s orders=%d total_cents=%d\n", c, n, total)
	}
	fmt.Print(title + ":\n" + b.String())
	return b.String(), rows.Err()
}

func pollCtx(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

func header(r *kgo.Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}
