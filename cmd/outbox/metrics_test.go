package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/relay"
)

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	m := &metrics{}
	h := m.hooks()
	h.Batch(relay.BatchStats{Claimed: 10, Published: 8, Failed: 2, Dead: 1, Skipped: 1, Duration: 1500 * time.Millisecond})
	h.Batch(relay.BatchStats{Claimed: 5, Published: 5, Duration: 500 * time.Millisecond})
	h.Leases(32)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	for _, want := range []string{
		"# TYPE outbox_relay_published_total counter\noutbox_relay_published_total 13\n",
		"outbox_relay_batches_total 2\n", "outbox_relay_claimed_total 15\n", "outbox_relay_failed_total 2\n",
		"outbox_relay_dead_total 1\n", "outbox_relay_skipped_total 1\n", "outbox_relay_batch_seconds_total 2\n",
		"# TYPE outbox_relay_leased_buckets gauge\noutbox_relay_leased_buckets 32\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
