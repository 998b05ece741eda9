package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// newWALCluster is a cluster in WAL mode: its relays stream a slot of the test's own.
func newWALCluster(t *testing.T) *cluster {
	o := testenv.NewWALOutbox(t, outbox.Limits{})
	slot, err := o.Store.Admin().Slot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, o: o, topic: testenv.Topic(t, 8, nil),
		flags: []string{"--mode", "wal", "--slot", slot.Name, "--publication", slot.Name}}
	c.env = []string{"OUTBOX_DATABASE_URL=" + o.URL, "OUTBOX_SCHEMA=" + o.Schema, "OUTBOX_MODE=wal",
		"OUTBOX_SLOT=" + slot.Name, "OUTBOX_PUBLICATION=" + slot.Name, "OUTBOX_KAFKA_BROKERS=" + strings.Join(testenv.Brokers(), ",")}
	if code, out := c.admin("migrate"); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	return c
}

// reader waits until a relay other than not reads the slot and returns its id, as its
// replication connection names it.
func (c *cluster) reader(not string, timeout time.Duration) string {
	c.t.Helper()
	// The slot's name from the flags, not from Store.Slot: with no relay reading (a
	// takeover), Slot peeks at the slot to age its oldest event, which holds the slot
	// for up to 2 s while the relay taking over waits.
	slot := c.flags[slices.Index(c.flags, "--slot")+1]
	pool := testenv.Pool(c.t) // one pool: a new one per poll stays open until the test ends
	deadline := time.Now().Add(timeout)
	for {
		var app string
		err := pool.QueryRow(context.Background(), `SELECT coalesce(application_name, '') FROM pg_stat_replication r
			JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`, slot).Scan(&app)
		if id, ok := strings.CutPrefix(app, "outbox-wal "); err == nil && ok && id != not {
			return id
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no relay but %q reads the slot after %s (last answer %q, error %v)", not, timeout, app, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three relay processes in WAL mode: one reads the slot, two stand by. The reader is
// SIGKILLed, then its successor stopped with SIGTERM, while writers commit: a standby
// takes over each time, nothing is lost or reordered, and duplicates stay within the
// bound (a SIGKILLed reader's unconfirmed batches; none for SIGTERM).
func TestWALStandbyTakeover(t *testing.T) {
	c := newWALCluster(t)
	const batch = 50
	args := func(id string) []string {
		return []string{"--relay-id", id, "--lease-ttl", "3s", "--batch-size", fmt.Sprint(batch)}
	}
	procs := map[string]*proc{}
	for _, id := range []string{"a", "b", "c"} {
		procs[id] = c.relay(args(id)...)
	}
	first := c.reader("", 15*time.Second)
	written := make(chan testenv.Ledger)
	go func() { written <- c.write(6, 20, 9000, 2*time.Millisecond) }()

	time.Sleep(1500 * time.Millisecond)
	procs[first].signal(t, syscall.SIGKILL)
	killed := time.Now()
	second := c.reader(first, 15*time.Second)
	afterKill := time.Since(killed)
	procs[first+"2"] = c.relay(args(first + "2")...)

	time.Sleep(1500 * time.Millisecond)
	procs[second].signal(t, syscall.SIGTERM)
	stopped := time.Now()
	third := c.reader(second, 15*time.Second)
	afterTerm := time.Since(stopped)

	ledger := <-written
	recs := testenv.ConsumeAll(t, c.topic, total(ledger), 3*time.Second, 90*time.Second)
	rep := testenv.Verify(ledger, recs)
	bound := 2 * batch // the batch in flight, and the one whose confirmation was on its way
	t.Logf("%d events; reader %s SIGKILLed: %s took over in %s; %s SIGTERMed: %s took over in %s; %v (bound %d)",
		total(ledger), first, second, afterKill.Round(time.Millisecond), second, third, afterTerm.Round(time.Millisecond), rep, bound)
	if rep.Lost != 0 || rep.OrderViolations != 0 || rep.Foreign != 0 || rep.Duplicates > bound {
		t.Fatalf("standby takeover: %v; want nothing lost or reordered, at most %d duplicates", rep, bound)
	}
	if afterKill > 5*time.Second || afterTerm > 2*time.Second {
		t.Fatalf("takeover took %s after SIGKILL (want under 5 s) and %s after SIGTERM (want under 2 s)", afterKill, afterTerm)
	}
	if code, out := c.admin("status"); code != 0 || !strings.Contains(out, "wal status:") || !strings.Contains(out, "server process") {
		t.Fatalf("status in WAL mode: %d %s", code, out)
	}
}
