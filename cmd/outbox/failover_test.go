package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// On the PostgreSQL 17 pair, `outbox status --standby-url` says the slot is ready for a
// failover and the standby has synced it, the relay's /metrics say so with
// outbox_wal_slot_failover_ready and outbox_wal_slot_synced, and its /readyz has no
// failover note. On PostgreSQL 15, status and /readyz say the slot is not
// failover-safe.
func TestFailoverStatus(t *testing.T) {
	ha := testenv.PGHA(t)
	pool := ha.Primary(t)
	schema, slot := testenv.Schema(t, pool), testenv.Name("fo")
	t.Cleanup(func() {
		ctx := context.Background()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot); err == nil || !strings.Contains(err.Error(), "is active") {
				break
			}
		}
		_, _ = pool.Exec(ctx, `DROP PUBLICATION IF EXISTS `+slot)
	})
	db := []string{"--database-url", ha.URL, "--schema", schema, "--mode", "wal", "--slot", slot, "--publication", slot}
	if code, out := runCmd(t, append([]string{"migrate"}, db...)...); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	// First with the standby's slot sync off: it has no copy, and says so.
	ha.SlotSync(t, false)
	addr := testenv.FreeAddr(t)
	startProc(t, nil, append([]string{"relay", "--kafka-brokers", strings.Join(testenv.Brokers(), ","), "--metrics-addr", addr,
		"--backlog-interval", "200ms", "--standby-url", ha.StandbyURL}, db...)...)
	waitGauge(t, addr, "outbox_wal_slot_synced", 0)
	if code, out := runCmd(t, append([]string{"status", "--standby-url", ha.StandbyURL}, db...)...); code != 0 ||
		!strings.Contains(out, "standby:            this standby has no synced copy of the slot") {
		t.Fatalf("status with a standby that has no copy (exit %d):\n%s", code, out)
	}
	ha.SlotSync(t, true)
	ha.WaitSynced(t, slot, time.Minute)

	code, out := runCmd(t, append([]string{"status", "--standby-url", ha.StandbyURL}, db...)...)
	if code != 0 || !strings.Contains(out, "failover:           ready: a failover slot") ||
		!strings.Contains(out, "standby:            synced: a failover to it keeps the slot") {
		t.Fatalf("status on PostgreSQL 17 with a synced standby (exit %d):\n%s", code, out)
	}
	if code, out := runCmd(t, append([]string{"status", "--standby-url", ha.URL}, db...)...); code != 1 || !strings.Contains(out, "reaches a primary, not a standby") {
		t.Fatalf("status with the primary as --standby-url (exit %d): %s", code, out)
	}
	waitGauge(t, addr, "outbox_wal_slot_synced", 1)
	waitGauge(t, addr, "outbox_wal_slot_failover_ready", 1)
	exported := scrape(t, "http://"+addr+"/metrics")
	for _, m := range metricNames(t, "../../deploy/prometheus/outbox-alerts.yml") {
		if strings.HasPrefix(m, "outbox_wal_slot_") && exported[m] == nil {
			t.Errorf("the alert rules name %s, which a WAL-mode relay with --standby-url does not export", m)
		}
	}
	if body := readyz(t, addr); strings.Contains(body, "failover") {
		t.Fatalf("/readyz on a failover-ready slot: %q", body)
	}

	old := testenv.NewWALOutbox(t, outbox.Limits{})
	sl, err := old.Store.Admin().Slot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old15 := []string{"--database-url", old.URL, "--schema", old.Schema, "--mode", "wal", "--slot", sl.Name, "--publication", sl.Name}
	if code, out := runCmd(t, append([]string{"migrate"}, old15...)...); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	if code, out := runCmd(t, append([]string{"status"}, old15...)...); code != 0 || !strings.Contains(out, "failover:           not failover-safe") {
		t.Fatalf("status on PostgreSQL 15 (exit %d):\n%s", code, out)
	}
	addr15 := testenv.FreeAddr(t)
	startProc(t, nil, append([]string{"relay", "--kafka-brokers", strings.Join(testenv.Brokers(), ","), "--metrics-addr", addr15}, old15...)...)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		body := readyz(t, addr15)
		if strings.HasPrefix(body, "ready\n") && strings.Contains(body, "failover: not failover-safe") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz on PostgreSQL 15: %q; want ready with the failover note", body)
		}
	}
}

// waitGauge waits until the relay at addr exports the gauge name with value want.
func waitGauge(t *testing.T, addr, name string, want float64) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = gauge(scrape(t, "http://"+addr+"/metrics")[name]); got == want {
			return
		}
	}
	t.Fatalf("%s = %v after 15s, want %v", name, got, want)
}

func readyz(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
