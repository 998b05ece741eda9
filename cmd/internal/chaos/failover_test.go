//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/testkit/faultproxy"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// The failover scenarios run on the PostgreSQL 17 primary and hot standby
// (services.sh up pg-ha), in table mode (ha) and WAL mode (wal-ha, a failover slot
// that the primary's synchronized_standby_slots holds back to what the standby has).
// Writers also record each event in a table of their transaction, so the verifier
// counts ghost events against what the promoted primary holds.
var haDatabases = []string{"ha", "wal-ha"}

var haOpt = options{Relays: 2, Workers: 4, Batch: 100, LeaseTTL: 3 * time.Second, Partitions: 8}

// haWriters are the default writers without the one that holds its transactions open
// for seconds: on PostgreSQL 17 a standby's new copy of a slot becomes ready (kept by
// a promotion) only once the primary's slot's catalog_xmin has passed the standby's,
// and a transaction always open somewhere holds it back. After a switchover the new
// standby needs such a copy before the next one; Slot().Synced on it says when.
func haWriters() []writerConfig { return defaultWriters()[1:] }

// failover kills the primary and promotes the standby, once the standby has a synced
// copy of a WAL-mode cluster's slot, and marks the fault at the promotion: recovery is
// measured from there. The relays' and the test's connections then find the new
// primary through the URL's second host.
func (c *cluster) failover() {
	c.changePrimary("failover: killed and promoted", c.postgres().ha.Failover)
}

// switchover is the planned kind: the primary stops cleanly and the standby takes
// over; the old primary follows it as the new standby.
func (c *cluster) switchover() { c.changePrimary("switchover", c.postgres().ha.Switchover) }

func (c *cluster) changePrimary(what string, change func(testing.TB)) {
	c.waitSynced()
	began := time.Now()
	change(c.t)
	c.mark(fmt.Sprintf("%s in %s", what, time.Since(began).Round(10*time.Millisecond)), c.opt.Relays)
	c.rewound()
	c.postgres().pool.Reset()
}

// rewound counts a rewind of a WAL-mode cluster's slot: the standby's copy trails.
func (c *cluster) rewound() {
	if _, wal := c.db.(*walDB); wal {
		c.mu.Lock()
		c.rewinds++
		c.mu.Unlock()
	}
}

// slowStandby puts a proxy that delays each way by lag between the standby and the
// primary, and waits until the standby streams through it.
func (c *cluster) slowStandby(lag time.Duration) {
	ha := c.postgres().ha
	p, err := faultproxy.Listen("127.0.0.1:0", ha.PrimaryAddr(c.t))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { p.Close() })
	p.Delay(lag)
	c.lag = lag
	primary := ha.Primary(c.t)
	var since time.Time
	if err := primary.QueryRow(context.Background(), `SELECT now()`).Scan(&since); err != nil {
		c.t.Fatal(err)
	}
	ha.Upstream(c.t, p.Addr())
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n int // the standby's walreceiver restarts on the new primary_conninfo
		err := primary.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_replication
			WHERE starts_with(application_name, 'node') AND state = 'streaming' AND backend_start > $1`, since).Scan(&n)
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the standby does not stream through the proxy after 30s (%v)", err)
		}
	}
}

// waitSynced waits until the standby has a synced copy of a WAL-mode cluster's slot.
func (c *cluster) waitSynced() {
	if w, ok := c.db.(*walDB); ok {
		w.ha.WaitSynced(c.t, w.slot, 90*time.Second)
	}
}

// (1) The primary SIGKILLed and the standby promoted, under load; a few seconds later
// the old primary is rebuilt as the new standby. Under synchronous replication and
// (full form only) asynchronous: the second may lose the last commits, and shows what
// that costs.
func TestPrimaryFailover(t *testing.T) {
	for _, repl := range pick([]string{"sync"}, []string{"sync", "async"}) {
		t.Run(repl, func(t *testing.T) {
			// Asynchronous, the standby trails by 200 ms (a slowed link), so that a
			// failover loses commits: table mode's published ones become ghosts, WAL
			// mode's relay never had them.
			lag := map[string]time.Duration{"async": 200 * time.Millisecond}[repl]
			scenario{dbs: haDatabases, opt: haOpt, writers: haWriters(), replication: repl, standbyLag: lag, fault: func(c *cluster) {
				c.failover()
				time.Sleep(between(c.rng, 2*time.Second, 4*time.Second))
				c.postgres().ha.Rejoin(c.t)
			}}.run(t)
		})
	}
}

// (2) Three planned switchovers in a row under load, 2-4 s apart.
func TestSwitchovers(t *testing.T) {
	scenario{dbs: haDatabases, opt: haOpt, writers: haWriters(), fault: func(c *cluster) {
		for i := range 3 {
			if i > 0 {
				time.Sleep(between(c.rng, 2*time.Second, 4*time.Second))
			}
			c.switchover()
		}
	}}.run(t)
}

// (3) A failover while the relays are mid-batch: their link to Kafka is slowed down
// (150 ms each way) so that every batch is in flight for most of its time, and the
// primary dies under them. (Not slower: at 300 ms each way a produce nears the publish
// deadline, LeaseTTL/4, and the retried batches' duplicates are Kafka's, not the
// failover's.) The short form runs it in WAL mode only.
func TestFailoverMidBatch(t *testing.T) {
	opt := haOpt
	opt.ProxyKafka = opt.Relays
	scenario{dbs: pick([]string{"wal-ha"}, haDatabases), opt: opt, writers: haWriters(), fault: func(c *cluster) {
		c.kafkaProxy.Delay(150 * time.Millisecond)
		time.Sleep(time.Second)
		c.failover()
		time.Sleep(time.Second)
		c.kafkaProxy.Delay(0)
		c.postgres().ha.Rejoin(c.t)
	}}.run(t)
}

// (4) A failover right after the slot was created, before the standby synced it
// (slot sync held off on the standby): the relays must refuse with
// relay.ErrStreamLost's message, never start a new slot and skip what the old one
// held. WAL mode only: table mode has no slot.
func TestFailoverBeforeSlotSynced(t *testing.T) {
	for i := range runs() {
		t.Run(fmt.Sprint("run", i+1), func(t *testing.T) {
			ha := testenv.PGHA(t)
			ha.SlotSync(t, false)
			t.Cleanup(func() { ha.SlotSync(t, true) })
			c := newCluster(t, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)), "wal-ha",
				options{Relays: 2, Workers: 1, Batch: 100, LeaseTTL: 3 * time.Second, Partitions: 4})
			w := c.write(defaultWriters()[1:])
			time.Sleep(time.Second)
			ha.Failover(t)
			failedAt := time.Now()
			for i, r := range c.relays {
				if err := r.wait(30 * time.Second); err == nil {
					t.Fatalf("relay %d exited cleanly after the failover; want it to refuse the missing slot", i)
				}
			}
			took := time.Since(failedAt)
			c.relays = nil // exited
			w.finish()
			slot := c.db.(*walDB).slot
			var n int
			pool := c.postgres().pool
			pool.Reset()
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n); err != nil || n != 0 {
				t.Fatalf("slots named %s on the promoted primary: %d (%v); want none: a fresh slot would skip events", slot, n, err)
			}
			for i := range 2 {
				b, _ := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("relay-%d.log", i+1)))
				if !strings.Contains(string(b), "does not exist on this server") || !strings.Contains(string(b), "--recreate-slot") {
					t.Fatalf("relay %d's log does not say the slot is gone and how to recover:\n%s", i+1, b)
				}
			}
			t.Logf("RESULT %s | both relays refused within %s of the failover, saying the slot is gone and how to recover | no slot created",
				t.Name(), took.Round(10*time.Millisecond))
			ha.Rejoin(t)
		})
	}
}
