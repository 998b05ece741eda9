package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/relay"
)

// /readyz is 200 only when the leases are fresh and the database and Kafka answer, and
// otherwise names what is wrong.
func TestReadiness(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	for _, tt := range []struct {
		name      string
		synced    time.Duration // ago; 0 = never
		db, kafka func(context.Context) error
		code      int
		body      string
	}{
		{"ready", time.Second, ok, ok, http.StatusOK, "ready"},
		{"never synced", 0, ok, ok, http.StatusServiceUnavailable, "leases: not synced yet"},
		{"leases stale", time.Minute, ok, ok, http.StatusServiceUnavailable, "more than the lease TTL 15s"},
		{"kafka down", time.Second, ok, down, http.StatusServiceUnavailable, "kafka: connection refused"},
		{"database down", time.Second, down, ok, http.StatusServiceUnavailable, "database: connection refused"},
		{"not connected", time.Second, nil, nil, http.StatusServiceUnavailable, "kafka: not connected yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rd := &readiness{ttl: 15 * time.Second, db: tt.db, kafka: tt.kafka}
			if tt.synced > 0 {
				rd.hook(nil)(relay.LeaseStats{Held: 64, Alive: 1})
				rd.lastSync.Store(time.Now().Add(-tt.synced).UnixNano())
			}
			rec := httptest.NewRecorder()
			rd.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("%d %q, want %d with %q", rec.Code, rec.Body.String(), tt.code, tt.body)
			}
		})
	}
}

// /readyz's notes are asked for at most once per interval, however often it is probed.
func TestEveryAtMost(t *testing.T) {
	calls := 0
	notes := everyAtMost(50*time.Millisecond, func(context.Context) []string {
		calls++
		return []string{fmt.Sprint(calls)}
	})
	for range 5 {
		if got := notes(context.Background()); len(got) != 1 || got[0] != "1" {
			t.Fatalf("within the interval: %v, want [1]", got)
		}
	}
	time.Sleep(60 * time.Millisecond)
	if got := notes(context.Background()); got[0] != "2" || calls != 2 {
		t.Fatalf("after the interval: %v after %d calls, want [2] after 2", got, calls)
	}
}
