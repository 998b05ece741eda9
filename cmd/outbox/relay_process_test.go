package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// cluster is one test's outbox, topic and relay processes.
type cluster struct {
	t     *testing.T
	o     *testenv.Outbox
	topic string
	env   []string
	flags []string // what admin commands need beyond the URL and schema (WAL mode's)
}

func newCluster(t *testing.T, db string) *cluster {
	c := &cluster{t: t, o: testenv.NewOutbox(t, db, outbox.Limits{}), topic: testenv.Topic(t, 8, nil)}
	c.env = []string{"OUTBOX_DATABASE_URL=" + c.o.URL, "OUTBOX_SCHEMA=" + c.o.Schema,
		"OUTBOX_KAFKA_BROKERS=" + strings.Join(testenv.Brokers(), ",")}
	if code, out := c.admin("migrate"); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	return c
}

// admin runs an operator command in-process against the cluster's outbox.
func (c *cluster) admin(args ...string) (int, string) {
	return runCmd(c.t, append(append(args, "--database-url", c.o.URL, "--schema", c.o.Schema), c.flags...)...)
}

func (c *cluster) relay(args ...string) *proc {
	return startProc(c.t, c.env, append([]string{"relay", "--log-level", "debug"}, args...)...)
}

// write runs writers concurrently, each committing its own keys' events one after
// another (one event per transaction), n events in all, and returns the ledger.
func (c *cluster) write(writers, keysPerWriter, n int, pace time.Duration) testenv.Ledger {
	ledgers := make([]testenv.Ledger, writers)
	var wg sync.WaitGroup
	for i := range writers {
		ledgers[i] = testenv.Ledger{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for j := 0; j < n/writers; j++ {
				key := fmt.Sprintf("w%d-k%d", i, rand.N(keysPerWriter))
				m := outbox.Message{Topic: c.topic, Key: []byte(key), Type: "test", Payload: testenv.Payload(key, ledgers[i][key])}
				if err := c.o.Write(ctx, m); err != nil {
					c.t.Error(err)
					return
				}
				ledgers[i][key]++
				time.Sleep(pace)
			}
		}()
	}
	wg.Wait()
	all := testenv.Ledger{}
	for _, l := range ledgers {
		for k, v := range l {
			all[k] = v
		}
	}
	return all
}

func total(l testenv.Ledger) int {
	n := 0
	for _, v := range l {
		n += v
	}
	return n
}

// waitDrained waits until the outbox has nothing pending or in flight.
func (c *cluster) waitDrained(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		code, out := c.admin("status", "--json")
		if code == 0 && strings.Contains(out, `"pending":0,"in_flight":0`) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("not drained after %s: %s", timeout, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Three healthy relay processes share the outbox: every event once, in order per key,
// and a relay stopped with SIGTERM midway hands over without a duplicate.
func TestThreeRelaysHealthy(t *testing.T) { testenv.EachDB(t, testThreeRelaysHealthy) }

func testThreeRelaysHealthy(t *testing.T, db string) {
	c := newCluster(t, db)
	relays := []*proc{c.relay("--lease-ttl", "3s"), c.relay("--lease-ttl", "3s"), c.relay("--lease-ttl", "3s")}
	go func() {
		time.Sleep(2 * time.Second)
		relays[0].stop(t, 15*time.Second)
	}()
	ledger := c.write(6, 20, 6000, time.Millisecond)
	c.waitDrained(60 * time.Second)
	recs := testenv.ConsumeAll(t, c.topic, total(ledger), 2*time.Second, 60*time.Second)
	rep := testenv.Verify(ledger, recs)
	t.Logf("3 relays, one stopped by SIGTERM midway, %d events: %v", total(ledger), rep)
	if rep.Lost != 0 || rep.OrderViolations != 0 || rep.Foreign != 0 {
		t.Fatalf("healthy relays: %v; want every event once, in order", rep)
	}
	for _, r := range relays[1:] {
		r.stop(t, 15*time.Second) // before their output is read
	}
	if rep.Duplicates != 0 {
		// A relay whose batch could not settle in time (SQLite under the race detector
		// is slow enough) was not healthy: its batch is sent again, within the bound.
		failed := failedSteps(relays)
		if len(failed) == 0 {
			t.Fatalf("healthy relays: %v, and no relay logged a failure; want every event once", rep)
		}
		if bound := len(relays) * relay.DefaultWorkers * relay.DefaultBatchSize; rep.Duplicates > bound {
			t.Fatalf("%d duplicates, over the bound of %d", rep.Duplicates, bound)
		}
		t.Logf("%d duplicates after relays failed a step other than a claim (not healthy), within the bound:\n%s",
			rep.Duplicates, strings.Join(failed, "\n"))
	}
}

// Relays killed with SIGKILL, or frozen past their lease and thawed, lose nothing and
// keep every key in order; each such fault may duplicate at most its batches in flight.
func TestRelaysKilledAndStalled(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db string) { testRelaysKilledAndStalled(t, db, false) })
}

// The same faults with --exactly-once: a read_committed consumer sees no duplicate.
func TestExactlyOnceRelaysKilledAndStalled(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db string) { testRelaysKilledAndStalled(t, db, true) })
}

func testRelaysKilledAndStalled(t *testing.T, db string, exactly bool) {
	c := newCluster(t, db)
	const batch, workers = 50, 4
	args := []string{"--lease-ttl", "2s", "--batch-size", fmt.Sprint(batch), "--workers", fmt.Sprint(workers)}
	if exactly {
		args = append(args, "--exactly-once", "--outbox-id", testenv.Name("eos"), "--progress-topic", testenv.Name("progress"))
	}
	relays := []*proc{c.relay(args...), c.relay(args...), c.relay(args...)}
	faults := 0
	var fmu sync.Mutex
	go func() {
		for i := 0; i < 3; i++ {
			time.Sleep(1500 * time.Millisecond)
			fmu.Lock()
			relays[0].signal(t, syscall.SIGKILL) // dies mid-whatever; its buckets move after expiry
			relays[0] = c.relay(args...)
			faults++
			fmu.Unlock()
		}
		relays[1].signal(t, syscall.SIGSTOP) // frozen past its leases
		time.Sleep(3 * time.Second)
		relays[1].signal(t, syscall.SIGCONT)
		fmu.Lock()
		faults++
		fmu.Unlock()
	}()
	ledger := c.write(8, 25, 8000, time.Millisecond)
	time.Sleep(6 * time.Second) // let the fault schedule finish
	c.waitDrained(90 * time.Second)
	recs := testenv.ConsumeAll(t, c.topic, total(ledger), 3*time.Second, 90*time.Second)
	rep := testenv.Verify(ledger, recs)
	fmu.Lock()
	bound := faults * workers * batch // the documented bound: the batches in flight, per fault
	fmu.Unlock()
	if exactly {
		uncommitted := rep
		cl := testenv.Client(t, kgo.ConsumeTopics(c.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		rep = testenv.Verify(ledger, testenv.Drain(cl, total(ledger), 3*time.Second, 90*time.Second))
		t.Logf("exactly once: read_uncommitted %v", uncommitted)
		bound = 0
	}
	t.Logf("%d events, %d faults (3 SIGKILL, 1 SIGSTOP past lease): %v; duplicate bound %d", total(ledger), faults, rep, bound)
	if rep.Lost != 0 || rep.OrderViolations != 0 || rep.Foreign != 0 {
		t.Fatalf("after kills and stalls: %v", rep)
	}
	if rep.Duplicates > bound {
		t.Fatalf("%d duplicates, over the bound of %d batches of %d per fault × %d faults", rep.Duplicates, workers, batch, faults)
	}
}

// failedSteps are the warnings of relays' steps failing after a claim (publishing,
// settling, releasing): what may send a batch again. Claims that time out send nothing.
func failedSteps(relays []*proc) []string {
	var out []string
	for _, r := range relays {
		for _, line := range strings.Split(r.out.String(), "\n") {
			if strings.Contains(line, "level=WARN") && !strings.Contains(line, `err="claim: `) {
				out = append(out, line)
			}
		}
	}
	return out
}
