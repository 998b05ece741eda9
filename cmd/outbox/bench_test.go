package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox/internal/bench"
	"github.com/firstunicorn/outbox/internal/testenv"
)

// outbox bench runs every scenario end to end at toy sizes, relay processes included,
// and its checks pass: a harness that broke, or a bench run that lost an event, fails here.
func TestBenchSmoke(t *testing.T) {
	testenv.Pool(t) // skip, or fail under CI, without the services
	testenv.Client(t)
	t.Setenv("OUTBOX_CMD_MAIN", "1") // the relay processes the bench starts are this binary
	code, out := runCmd(t, "bench", "--json",
		"--database-url", testenv.DatabaseURL(), "--kafka-brokers", strings.Join(testenv.Brokers(), ","),
		"--limit-events", "2000", "--drain-events", "4000", "--writers", "2", "--duration", "300ms",
		"--rates", "200", "--scale", "1,2", "--keys", "100")
	if code != 0 {
		t.Fatalf("outbox bench exited %d:\n%s", code, tail(out, 3000))
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, tail(out, 2000))
	}
	got := map[string]float64{}
	for _, r := range rep.Rows {
		got[r.Scenario] = r.Value
	}
	for _, name := range []string{
		"limit.a.kafka_produce", "limit.b.pg_claim_delete", "limit.c.insert_1_per_tx", "limit.c.insert_100_per_tx",
		"drain.1_relay", "relay.peak_rss", "overhead.tx_0_events", "overhead.tx_1_events",
		"latency.200_per_s.p50", "latency.200_per_s.p99", "latency.kafka_only_200_per_s.p50",
		"scale.1_relays", "scale.2_relays",
	} {
		if got[name] <= 0 {
			t.Errorf("row %s = %v, want a positive figure", name, got[name])
		}
	}
	if rep.Failed != "" {
		t.Fatalf("bench reported a failed check: %s", rep.Failed)
	}
}
