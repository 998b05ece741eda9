// Command watermill measures Watermill's forwarder (watermill-sql on PostgreSQL, then
// watermill-kafka) draining a backlog, the peer `outbox bench` is compared with. It is a
// module of its own so that go-outbox never depends on Watermill; `make bench` runs it
// right after `outbox bench`, against the same PostgreSQL and Kafka.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/twmb/franz-go/pkg/kadm"
)

func main() {
	var (
		dbURL   = flag.String("database-url", os.Getenv("OUTBOX_DATABASE_URL"), "PostgreSQL URL")
		brokers = flag.String("kafka-brokers", os.Getenv("OUTBOX_KAFKA_BROKERS"), "Kafka brokers")
		events  = flag.Int("events", 100_000, "backlog to drain")
		payload = flag.Int("payload-bytes", 1024, "payload size")
		keys    = flag.Int("keys", 10_000, "distinct partition keys")
		asJSON  = flag.Bool("json", false, "print JSON")
		rates   = flag.String("rates", "1000,5000", "sustained latency rates, messages/s, comma-separated (empty = none)")
		dur     = flag.Duration("duration", 5*time.Second, "length of each latency phase")
		report  = flag.String("outbox-report", "", "`outbox bench --json` output of the same run: print it with the Watermill rows and the ratio")
	)
	flag.Parse()
	var rows []row
	if *report != "" {
		b, err := os.ReadFile(*report)
		if err != nil {
			fail(err)
		}
		var rep struct{ Rows []row }
		if err := json.Unmarshal(b, &rep); err != nil {
			fail(fmt.Errorf("%s: %w", *report, err))
		}
		rows = rep.Rows
	}
	w, err := drain(context.Background(), *dbURL, strings.Split(*brokers, ","), *events, *payload, *keys)
	if err != nil {
		fail(err)
	}
	rows = append(rows, w)
	for _, rs := range strings.Split(*rates, ",") {
		if rs = strings.TrimSpace(rs); rs == "" {
			continue
		}
		var rate int
		if _, err := fmt.Sscan(rs, &rate); err != nil || rate <= 0 {
			fail(fmt.Errorf("bad --rates %q", *rates))
		}
		lr, err := latency(context.Background(), *dbURL, strings.Split(*brokers, ","), rate, *dur, *payload, *keys)
		if err != nil {
			fail(err)
		}
		rows = append(rows, lr...)
	}
	for _, r := range rows {
		if r.Scenario == "drain.1_relay" {
			rows = append(rows, row{"watermill.ratio", r.Value / w.Value, "x", "go-outbox drain / Watermill forwarder drain, same run; target >= 10"})
		}
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(struct{ Rows []row }{rows})
		return
	}
	for _, r := range rows {
		fmt.Printf("%37s  %10.2f  %8s    %s\n", r.Scenario, r.Value, r.Unit, r.Note)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "watermill bench:", err)
	os.Exit(1)
}

type row struct {
	Scenario string  `json:"scenario"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Note     string  `json:"note"`
}

func drain(ctx context.Context, dbURL string, brokers []string, n, payloadBytes, keys int) (row, error) {
	r, err := newRig(ctx, dbURL, brokers)
	if err != nil {
		return row{}, err
	}
	defer r.close()
	// Pre-fill the backlog as an application would: enveloped messages in the SQL table.
	pad := make([]byte, payloadBytes)
	for start := 0; start < n; start += 1000 {
		msgs := make([]*message.Message, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			m := message.NewMessage(watermill.NewUUID(), pad)
			m.Metadata.Set("partition_key", fmt.Sprint("k", i%keys))
			msgs = append(msgs, m)
		}
		if err := r.pub.Publish(r.topic, msgs...); err != nil {
			return row{}, fmt.Errorf("prefill: %w", err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	r.run(rctx)
	deadline := time.Now().Add(30 * time.Minute)
	var got int64
	for time.Now().Before(deadline) {
		ends, err := r.adm.ListEndOffsets(ctx, r.topic)
		if err == nil {
			got = 0
			ends.Each(func(o kadm.ListedOffset) { got += o.Offset })
			if got >= int64(n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if got != int64(n) {
		return row{}, fmt.Errorf("the forwarder delivered %d records for %d messages", got, n)
	}
	return row{
		Scenario: "watermill.drain",
		Value:    float64(n) / elapsed.Seconds(),
		Unit:     "events/s",
		Note:     fmt.Sprintf("%d events of %d B, Watermill forwarder (watermill-sql v4 -> watermill-kafka v3), defaults but a 10ms poll; %d records in Kafka", n, payloadBytes, got),
	}, nil
}
