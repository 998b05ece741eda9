package main

import (
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/firstunicorn/outbox/testkit/testenv"
)

// An outbox relay process's /metrics, scraped over HTTP after it relayed N events:
// the relay's counters and histogram count them, and the Kafka client's, Go runtime's
// and process's metrics are there too.
func TestMetricsScrape(t *testing.T) {
	c := newCluster(t, "postgres")
	addr := testenv.FreeAddr(t)
	p := c.relay("--metrics-addr", addr, "--lease-ttl", "3s", "--backlog-interval", "100ms")
	const n = 200
	l := c.write(4, 20, n, 0)
	c.waitDrained(30 * time.Second)
	if rep := testenv.Verify(l, testenv.ConsumeAll(t, c.topic, n, time.Second, 30*time.Second)); rep.Received != n || rep.Lost != 0 {
		t.Fatalf("relayed: %v", rep)
	}
	var mfs map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mfs = scrape(t, "http://"+addr+"/metrics")
		if sum(mfs["outbox_relay_events_total"], "outcome", "sent") >= n && gauge(mfs["outbox_backlog_pending_events"]) == 0 ||
			time.Now().After(deadline) {
			break
		}
	}
	if got := sum(mfs["outbox_relay_events_total"], "topic", c.topic); got != n {
		t.Errorf("outbox_relay_events_total{topic=%q} = %v, want %d", c.topic, got, n)
	}
	if h := mfs["outbox_relay_commit_to_ack_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() != n {
		t.Errorf("commit_to_ack histogram: %v, want %d observations", h, n)
	}
	if g := mfs["outbox_relay_leased_buckets"]; g == nil || g.GetMetric()[0].GetGauge().GetValue() != 64 {
		t.Errorf("leased_buckets: %v, want 64", g)
	}
	if g := mfs["outbox_backlog_pending_events"]; g == nil || gauge(g) != 0 {
		t.Errorf("backlog_pending_events after the drain: %v, want 0", g)
	}
	for _, name := range []string{"outbox_backlog_oldest_pending_age_seconds", "outbox_backlog_dead_events", "outbox_relay_batch_size_events", "outbox_relay_batch_duration_seconds",
		"outbox_relay_live_relays", "outbox_relay_last_publish_timestamp_seconds", "outbox_kafka_produce_bytes_total",
		"go_goroutines", "process_cpu_seconds_total"} {
		if mfs[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		_ = resp.Body.Close()
	}
	p.stop(t, 20*time.Second)
}

// scrape reads a Prometheus text exposition; nil before the server listens.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

// sum adds the values of mf's counters whose label is value.
func sum(mf *dto.MetricFamily, label, value string) float64 {
	total := 0.0
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == value {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// gauge is mf's one gauge value; -1 when there is none.
func gauge(mf *dto.MetricFamily) float64 {
	if mf == nil || len(mf.GetMetric()) == 0 {
		return -1
	}
	return mf.GetMetric()[0].GetGauge().GetValue()
}
