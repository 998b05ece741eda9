package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firstunicorn/outbox/relay"
)

// readiness answers /readyz: the relay is ready when it synced its leases within one
// lease TTL (its buckets are current, and the database answered then), and the database
// and Kafka both answer now. /healthz stays liveness: the process answers.
type readiness struct {
	ttl      time.Duration
	lastSync atomic.Int64 // Unix nanoseconds of the last lease sync; 0 = none yet
	// db and kafka are set once the connections are open; nil answers "not connected".
	db, kafka func(context.Context) error
	// notes, when set, are told after "ready" without making the relay unready: in WAL
	// mode, what a failover would cost the slot.
	notes func(context.Context) []string
}

// hook wraps a Leases hook so that each sync is also recorded here.
func (rd *readiness) hook(next func(relay.LeaseStats)) func(relay.LeaseStats) {
	return func(s relay.LeaseStats) {
		rd.lastSync.Store(time.Now().UnixNano())
		if next != nil {
			next(s)
		}
	}
}

// probeTimeout bounds each check of one /readyz request.
const probeTimeout = 2 * time.Second

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	problems := rd.problems(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintln(w, strings.Join(problems, "\n"))
		return
	}
	_, _ = fmt.Fprintln(w, "ready")
	if rd.notes != nil {
		ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
		defer cancel()
		for _, n := range rd.notes(ctx) {
			_, _ = fmt.Fprintln(w, n)
		}
	}
}

// gauge is outbox_relay_ready, the same checks at scrape time, for alerting: Prometheus
// scrapes /metrics, not /readyz.
func (rd *readiness) gauge() prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "outbox_relay_ready",
		Help: "1 when /readyz would answer 200: leases synced within a lease TTL, database and Kafka answering; else 0."},
		func() float64 {
			if len(rd.problems(context.Background())) > 0 {
				return 0
			}
			return 1
		})
}

// problems are what keeps the relay from being ready; none when it is.
func (rd *readiness) problems(ctx context.Context) []string {
	var problems []string
	if last := rd.lastSync.Load(); last == 0 {
		problems = append(problems, "leases: not synced yet")
	} else if since := time.Since(time.Unix(0, last)); since > rd.ttl {
		problems = append(problems, fmt.Sprintf("leases: last synced %s ago, more than the lease TTL %s", since.Round(time.Millisecond), rd.ttl))
	}
	for _, c := range []struct {
		name  string
		check func(context.Context) error
	}{{"database", rd.db}, {"kafka", rd.kafka}} {
		if c.check == nil {
			problems = append(problems, c.name+": not connected yet")
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := c.check(cctx)
		cancel()
		if err != nil {
			problems = append(problems, c.name+": "+err.Error())
		}
	}
	return problems
}

// noteInterval is how long /readyz reuses its notes. Probes come every few seconds, and
// a slot no relay reads is peeked at to age it, which holds the slot meanwhile.
const noteInterval = 30 * time.Second

// everyAtMost returns f's answer, asking f again at most every interval.
func everyAtMost(interval time.Duration, f func(context.Context) []string) func(context.Context) []string {
	var (
		mu    sync.Mutex
		at    time.Time
		notes []string
	)
	return func(ctx context.Context) []string {
		mu.Lock()
		defer mu.Unlock()
		if at.IsZero() || time.Since(at) >= interval {
			notes, at = f(ctx), time.Now()
		}
		return notes
	}
}
