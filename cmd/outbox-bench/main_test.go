package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/testkit/testenv"
)

// outboxBin is the outbox command the bench's relay processes run, built once.
var outboxBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testenv.BuildOutbox()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outboxBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// The bench runs every scenario end to end at toy sizes on every database, relay
// processes included, and its checks pass: a harness that broke, or a bench run that
// lost an event, fails here.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases {
		t.Run(db, func(t *testing.T) { smoke(t, db) })
	}
}

func smoke(t *testing.T, db string) {
	testenv.Client(t) // skip, or fail under CI, without the services
	url := testenv.URL(t, db)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"--json", "--outbox-bin", outboxBin,
		"--database-url", url, "--kafka-brokers", strings.Join(testenv.Brokers(), ","),
		"--limit-events", "2000", "--drain-events", "4000", "--writers", "2", "--duration", "300ms",
		"--rates", "200", "--scale", "1,2", "--keys", "100", "--drain-rounds", "1"}
	rows := smokeRows
	if db == "postgres" {
		testenv.Registry(t)
		args = append(args, "--schema-registry-url", testenv.RegistryURL())
		rows = append(rows, "exactly_once.drain.1_relay", "exactly_once.drain_ratio", "exactly_once.latency.200_per_s.p99",
			"formats.drain_plain", "formats.drain_cloudevents", "formats.drain_avro", "formats.drain_protobuf",
			"formats.write_json", "formats.write_avro", "formats.write_protobuf", "formats.write_jsonschema")
	} else { // make test's time: the exactly-once and formats scenarios are the same code on every database
		args = append(args, "--only", "limits,drain,overhead,latency,steady,scale,remote,observability")
	}
	if db != "sqlite" { // SQLite's work is the relay's own: no statements of a server to count
		rows = append(rows, "steady.1tx.200_per_s.statements_per_event", "steady.4tx.200_per_s.statements_per_event")
	}
	code := run(ctx, args, &out, &out)
	if code != 0 {
		t.Fatalf("outbox-bench exited %d:\n%s", code, tail(out.String(), 3000))
	}
	var rep Report
	s := out.String()
	if err := json.Unmarshal([]byte(s[strings.Index(s, "{"):]), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, tail(s, 2000))
	}
	got := map[string]float64{}
	for _, r := range rep.Rows {
		got[r.Scenario] = r.Value
	}
	for _, name := range rows {
		if got[name] <= 0 {
			t.Errorf("row %s = %v, want a positive figure", name, got[name])
		}
	}
	if rep.Failed != "" {
		t.Fatalf("bench reported a failed check: %s", rep.Failed)
	}
}

// smokeRows are the rows every database's smoke run must report.
var smokeRows = []string{
	"limit.a.kafka_produce", "limit.b.claim_delete", "limit.c.insert_1_per_tx", "limit.c.insert_100_per_tx",
	"drain.1_relay", "relay.peak_rss", "overhead.tx_0_events", "overhead.tx_1_events",
	"latency.200_per_s.p50", "latency.200_per_s.p99", "latency.kafka_only_200_per_s.p50",
	"scale.1_relays", "scale.2_relays", "remote.1_relays", "remote.2_relays", "remote_1_worker.2_relays",
	"observability.drain_traced_off", "observability.drain_traced_on", "observability.drain_metrics",
	"observability.write_traced_on",
	"steady.1tx.200_per_s.kafka_batches_per_event", "steady.4tx.200_per_s.p99",
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
