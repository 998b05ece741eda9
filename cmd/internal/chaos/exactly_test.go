//go:build chaos

package chaos

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// eos is a scenario's options with --exactly-once: the verifier reads read_committed
// and allows no duplicate (bound 0), and reports what read_uncommitted shows.
func eos(o options) options {
	o.ExactlyOnce = true
	return o
}

// The faults of the other scenarios with exactly-once relays: killed at random and in
// each phase (in particular between Kafka's commit and the database's), frozen past
// their leases, Kafka killed, the database crashed, and on the three-node cluster a
// leader killed and a rolling restart. Each run must show 0 lost, 0 order violations
// and 0 duplicates to a read_committed reader.
func TestExactlyOnce(t *testing.T) {
	if testing.Short() {
		// make test's time: it runs cmd/outbox.TestExactlyOnceRelaysKilledAndStalled.
		t.Skip("the exactly-once scenarios run in make chaos")
	}
	t.Run("relays_killed", func(t *testing.T) {
		for _, dbs := range [][]string{chaosDatabases, {"sqlite"}} {
			sc := relaysKilled(dbs, nil)
			if dbs[0] == "sqlite" {
				sc.writers = defaultWriters()[1:]
			}
			sc.opt = eos(sc.opt)
			sc.run(t)
		}
	})
	for _, phase := range []string{"publishing", "settling"} {
		t.Run("killed_"+phase, func(t *testing.T) {
			opt := eos(relaysOpt)
			opt.ProxyDB, opt.ProxyKafka = 1, 1
			scenario{opt: opt, fault: killedInPhase(phase)}.run(t)
		})
	}
	// A relay frozen (SIGSTOP) past its lease and thawed: its successor fenced it, so
	// its late commits fail.
	t.Run("stalled", func(t *testing.T) {
		scenario{opt: eos(relaysOpt), fault: func(c *cluster) {
			for range pick(1, 3) {
				c.mu.Lock()
				r := c.relays[0]
				c.mu.Unlock()
				r.signal(syscall.SIGSTOP)
				time.Sleep(c.opt.LeaseTTL + between(c.rng, time.Second, 2*time.Second))
				r.signal(syscall.SIGCONT)
				c.mark("thawed", 1)
				time.Sleep(between(c.rng, time.Second, 2*time.Second))
			}
		}}.run(t)
	})
	t.Run("kafka_killed", func(t *testing.T) {
		down := func(c *cluster) time.Duration { return between(c.rng, time.Second, 5*time.Second) }
		scenario{opt: eos(relaysOpt), fault: kafkaDown(syscall.SIGKILL, down)}.run(t)
	})
	t.Run("database_crashed", func(t *testing.T) {
		scenario{opt: eos(relaysOpt), fault: func(c *cluster) {
			c.db.restart(c.t, true)
			c.mark("restarted", c.opt.Relays)
			if _, wal := c.db.(*walDB); wal {
				c.rewinds++
			}
		}}.run(t)
	})
	for _, sc := range []struct {
		name  string
		fault func(c *cluster, adm *kadm.Client)
	}{
		{"cluster_leader_killed", func(c *cluster, adm *kadm.Client) {
			n := busiestLeader(c.t, adm, c.topic)
			stopNode(c.t, n, syscall.SIGKILL)
			time.Sleep(between(c.rng, 2*time.Second, 5*time.Second))
			isr := c.restartNodes(adm)
			c.mark(fmt.Sprintf("node %d (leader) back, in sync after %s", n, isr.Round(100*time.Millisecond)), c.opt.Relays)
		}},
		{"cluster_rolling_restart", func(c *cluster, adm *kadm.Client) {
			for n := int32(1); n <= 3; n++ {
				stopNode(c.t, n, syscall.SIGTERM)
				isr := c.restartNodes(adm)
				c.mark(fmt.Sprintf("node %d restarted, in sync after %s", n, isr.Round(100*time.Millisecond)), c.opt.Relays)
			}
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			scenario{dbs: []string{"postgres"}, opt: eos(clusterOpt), fault: func(c *cluster) {
				sc.fault(c, clusterAdmin(c.t))
			}}.run(t)
		})
	}
}
