package outboxprom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxprom"
)

// What the inbox's hooks report lands in the metrics, under names Prometheus's linter
// accepts.
func TestInboxHooksFeedMetrics(t *testing.T) {
	m := outboxprom.NewInbox()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	h := m.Hooks()
	h.Event(inbox.EventStats{Topic: "orders", Partition: 1, Outcome: inbox.Handled, Attempt: 1, Duration: 2 * time.Millisecond, Lag: 7})
	h.Event(inbox.EventStats{Topic: "orders", Partition: 1, Outcome: inbox.Handled, Attempt: 1, Duration: 3 * time.Millisecond, Lag: 6})
	h.Event(inbox.EventStats{Topic: "orders", Partition: 0, Outcome: inbox.Duplicate, Attempt: 1, Lag: 9})
	h.Event(inbox.EventStats{Topic: "orders", Partition: 0, Outcome: inbox.Retried, Attempt: 1, Duration: time.Millisecond})
	h.Event(inbox.EventStats{Topic: "orders", Partition: 0, Outcome: inbox.Dead, Attempt: 2, Duration: time.Millisecond, Lag: 0})
	want := `
# HELP outbox_inbox_events_total Event attempts by topic and outcome: handled (the handler's transaction committed), duplicate (already applied; handler not called), retry, dead (dead-lettered).
# TYPE outbox_inbox_events_total counter
outbox_inbox_events_total{outcome="dead",topic="orders"} 1
outbox_inbox_events_total{outcome="duplicate",topic="orders"} 1
outbox_inbox_events_total{outcome="handled",topic="orders"} 2
outbox_inbox_events_total{outcome="retry",topic="orders"} 1
# HELP outbox_inbox_lag_records Records of the partition behind the last one handled, as of its fetch.
# TYPE outbox_inbox_lag_records gauge
outbox_inbox_lag_records{partition="0",topic="orders"} 0
outbox_inbox_lag_records{partition="1",topic="orders"} 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "outbox_inbox_events_total", "outbox_inbox_lag_records"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m, "outbox_inbox_handle_duration_seconds"); n != 1 {
		t.Errorf("%d handle duration series, want 1", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
