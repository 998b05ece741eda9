package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

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
		ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
		err := c.check(ctx)
		cancel()
		if err != nil {
			problems = append(problems, c.name+": "+err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintln(w, strings.Join(problems, "\n"))
		return
	}
	_, _ = fmt.Fprintln(w, "ready")
}
