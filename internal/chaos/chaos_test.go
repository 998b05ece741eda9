//go:build chaos

// Package chaos restarts and kills the shared PostgreSQL and Kafka while writers commit
// and a relay publishes, and checks that every committed event arrives, in order per
// key. It stops services other tests use, so it runs alone: `make chaos` (build tag
// chaos), never beside `make test`.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/ledger"
	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/relay"
)

const state = "/var/tmp/go-outbox"

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func services(t *testing.T, cmd string) { sh(t, "../../scripts/services.sh", cmd) }

// run writes events for dur on 4 writers (each its own keys, one event per transaction,
// retried on error) while fault runs once, with a relay publishing; then it checks the
// topic against what committed.
func run(t *testing.T, fault func(t *testing.T)) (relayFailures int64) {
	services(t, "up")
	t.Cleanup(func() { services(t, "up") }) // leave the services running for what follows
	pool := testenv.Pool(t)
	schema := testenv.Schema(t, pool)
	topic := testenv.Topic(t, 4, nil)
	cfg := &outboxpgx.Config{Schema: schema}
	store, err := outboxpgx.NewStore(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	w, _ := outboxpgx.NewWriter(cfg)
	pub, err := outboxkafka.New(testenv.Client(t, outboxkafka.ProducerOpts()...), nil)
	if err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int64
	r, err := relay.New(store, pub, &relay.Config{LeaseTTL: 3 * time.Second, MaxBackoff: time.Second,
		Hooks: relay.Hooks{Batch: func(s relay.BatchStats) { failures.Add(int64(s.Failed)) }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	ledgers := make([]ledger.Ledger, 4)
	var wg sync.WaitGroup
	var failed sync.Map
	stop := time.Now().Add(8 * time.Second)
	for i := range ledgers {
		ledgers[i] = ledger.Ledger{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				key := fmt.Sprintf("w%d-k%d", i, n%20)
				m := outbox.Message{Topic: topic, Key: []byte(key), Payload: ledger.Payload(key, ledgers[i][key])}
				err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error { return w.Write(context.Background(), tx, m) })
				if err != nil { // not counted: the next try writes the same event again
					failed.Store(err.Error(), true)
					time.Sleep(50 * time.Millisecond)
					n--
					continue
				}
				ledgers[i][key]++
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	fault(t)
	wg.Wait()
	all := ledger.Ledger{}
	for _, l := range ledgers {
		for k, v := range l {
			all[k] = v
		}
	}
	recs := testenv.ConsumeAll(t, topic, all.Total(), 3*time.Second, 2*time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("relay: %v", err)
	}
	rep := ledger.Verify(all, recs)
	errs := 0
	failed.Range(func(any, any) bool { errs++; return true })
	t.Logf("%d events committed, %d distinct write errors, %d failed publish attempts during the fault: %v",
		all.Total(), errs, failures.Load(), rep)
	// A commit whose reply was lost may have stored the event and then been written
	// again: those show as duplicates of the same payload or as unknown ones, never lost.
	if rep.Lost != 0 || rep.OrderViolations != 0 {
		t.Fatalf("after the fault: %v", rep)
	}
	return failures.Load()
}

func pgCtl(t *testing.T, mode string) {
	sh(t, "runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", state+"/pg", "-m", mode, "-w", "restart",
		"-l", state+"/logs/postgres.log")
}

func TestPostgresRestartFast(t *testing.T) { run(t, func(t *testing.T) { pgCtl(t, "fast") }) }

func TestPostgresRestartImmediate(t *testing.T) { run(t, func(t *testing.T) { pgCtl(t, "immediate") }) }

func TestKafkaKilledAndRestarted(t *testing.T) {
	failures := run(t, func(t *testing.T) {
		b, err := os.ReadFile(state + "/kafka/pid")
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		fmt.Sscan(strings.TrimSpace(string(b)), &pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		services(t, "up")
	})
	if failures == 0 {
		t.Fatal("no publish failed while Kafka was down: the broker was not killed")
	}
}
