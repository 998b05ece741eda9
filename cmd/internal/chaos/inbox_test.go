//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// consumerConfig is what an inbox consumer process is told, as JSON in
// OUTBOX_CHAOS_CONFIG.
type consumerConfig struct {
	DatabaseURL, Schema, Topic, Group string
	Brokers                           []string
	Counts                            string // file the consumer's duplicate count is written to, every 200 ms
}

// The consumer's effect of an event "key/n/...": one more in applied's (k, n) row, and a
// line in applied_log, whose id gives the order in which a key's events were applied.
const appliedSQL = `CREATE TABLE %[1]s.applied (k text, n int, times int NOT NULL, PRIMARY KEY (k, n));
CREATE TABLE %[1]s.applied_log (id bigserial PRIMARY KEY, k text NOT NULL, n int NOT NULL)`

// runConsumer consumes the topic through the inbox until SIGTERM (or SIGKILL).
func runConsumer() int {
	var cfg consumerConfig
	if err := json.Unmarshal([]byte(os.Getenv("OUTBOX_CHAOS_CONFIG")), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "consumer config:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	defer pool.Close()
	store, err := inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: cfg.Schema})
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	// A killed member's partitions move after the session timeout.
	client, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.SessionTimeout(6*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	defer client.Close()
	var dups atomic.Int64
	go func() {
		for range time.Tick(200 * time.Millisecond) {
			_ = os.WriteFile(cfg.Counts, []byte(strconv.FormatInt(dups.Load(), 10)), 0o644)
		}
	}()
	c, err := inbox.NewConsumer(store, func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
		key, rest, _ := strings.Cut(string(m.Value), "/")
		nstr, _, _ := strings.Cut(rest, "/")
		n, err := strconv.Atoi(nstr)
		if err != nil {
			return fmt.Errorf("payload %q: %w", m.Value, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+cfg.Schema+`.applied (k, n, times) VALUES ($1, $2, 1)
			ON CONFLICT (k, n) DO UPDATE SET times = applied.times + 1`, key, n); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO `+cfg.Schema+`.applied_log (k, n) VALUES ($1, $2)`, key, n)
		return err
	}, client, &inbox.ConsumerConfig{Group: cfg.Group, Topics: []string{cfg.Topic},
		Backoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		Hooks: inbox.Hooks{Event: func(s inbox.EventStats) {
			if s.Outcome == inbox.Duplicate {
				dups.Add(1)
			}
		}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	_ = os.WriteFile(cfg.Counts, []byte(strconv.FormatInt(dups.Load(), 10)), 0o644)
	return 0
}

// consumers are a cluster's inbox consumer processes, in slots.
type consumers struct {
	c      *cluster
	group  string
	mu     sync.Mutex
	procs  []*proc
	n      int // started so far
	counts []string
	kills  int
}

func (c *cluster) startConsumers(n int) *consumers {
	if out, err := c.outbox("inbox", "migrate"); err != nil {
		c.t.Fatalf("inbox migrate: %v\n%s", err, out)
	}
	if _, err := c.pg().Exec(context.Background(), fmt.Sprintf(appliedSQL, c.schema)); err != nil {
		c.t.Fatal(err)
	}
	cs := &consumers{c: c, group: testenv.Name("inbox")}
	for i := range n {
		cs.procs = append(cs.procs, cs.start(i))
	}
	c.t.Cleanup(func() {
		for _, p := range cs.procs {
			_ = p.stop(15 * time.Second)
		}
	})
	return cs
}

func (cs *consumers) start(slot int) *proc {
	cs.n++
	name := fmt.Sprintf("consumer-%d", cs.n)
	cfg := consumerConfig{DatabaseURL: cs.c.dsn("chaos-consumer", nil), Schema: cs.c.schema, Topic: cs.c.topic, Group: cs.group,
		Brokers: testenv.Brokers(), Counts: filepath.Join(cs.c.dir, name+".dups")}
	cs.counts = append(cs.counts, cfg.Counts)
	return cs.c.start(name, self("consumer", cfg))
}

// kill SIGKILLs consumer slot i and, after pause, starts a replacement.
func (cs *consumers) kill(i int, pause time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.procs[i].signal(syscall.SIGKILL)
	<-cs.procs[i].done
	time.Sleep(pause)
	cs.procs[i] = cs.start(i)
	cs.kills++
}

// dropped is how many duplicates the consumers reported dropping (a killed one's last
// 200 ms are not counted).
func (cs *consumers) dropped() int64 {
	var total int64
	for _, f := range cs.counts {
		b, _ := os.ReadFile(f)
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		total += n
	}
	return total
}

// inboxVerdict compares the consumers' effects with the writers' ledgers.
type inboxVerdict struct {
	Committed, Applied, Lost, AppliedTwice, OrderViolations, Unknown int
}

// check waits until the consumers applied as many events as were committed (or
// timeout), then compares their effects with the ledgers.
func (cs *consumers) check(ledgers []string, timeout time.Duration) inboxVerdict {
	var v inboxVerdict
	want := map[string]int{}
	for _, f := range ledgers {
		l, err := readLedger(f)
		if err != nil {
			cs.c.t.Fatal(err)
		}
		for k, n := range l.Main {
			want[k] = n
			v.Committed += n
		}
	}
	pool, schema := cs.c.pg(), cs.c.schema
	ctx := context.Background()
	for deadline := time.Now().Add(timeout); ; time.Sleep(250 * time.Millisecond) {
		var rows int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.applied`).Scan(&rows)
		if rows >= v.Committed || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(2 * time.Second) // anything applied late, twice, counts too
	rows, err := pool.Query(ctx, `SELECT k, n, times FROM `+schema+`.applied`)
	if err != nil {
		cs.c.t.Fatal(err)
	}
	got := map[string]map[int]int{}
	for rows.Next() {
		var k string
		var n, times int
		if err := rows.Scan(&k, &n, &times); err != nil {
			cs.c.t.Fatal(err)
		}
		if n >= want[k] {
			v.Unknown++
			continue
		}
		if got[k] == nil {
			got[k] = map[int]int{}
		}
		got[k][n] = times
		v.Applied += times
		if times > 1 {
			v.AppliedTwice += times - 1
		}
	}
	rows.Close()
	for k, count := range want {
		v.Lost += count - len(got[k])
	}
	v.OrderViolations = cs.orderViolations()
	return v
}

// orderViolations counts, per key, events applied after an event committed later.
func (cs *consumers) orderViolations() int {
	rows, err := cs.c.pg().Query(context.Background(), `SELECT k, n FROM `+cs.c.schema+`.applied_log ORDER BY id`)
	if err != nil {
		cs.c.t.Fatal(err)
	}
	defer rows.Close()
	next, bad := map[string]int{}, 0
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			cs.c.t.Fatal(err)
		}
		if n < next[k] {
			bad++
		}
		next[k] = max(next[k], n+1)
	}
	return bad
}

// Inbox consumers (three, in one group) SIGKILLed at random while relays publish and
// writers write (15 kills; 6 in the short form), Kafka SIGKILLed once and PostgreSQL
// crashed once under them (the full form; the short form kills Kafka only). Each event's effect is a row increment in the
// consumer's table: every committed event must be applied exactly once, in order per
// key, however often Kafka delivered it.
func TestInboxConsumersKilled(t *testing.T) {
	var cs *consumers
	scenario{
		dbs: []string{"postgres"},
		opt: relaysOpt,
		fault: func(c *cluster) {
			cs = c.startConsumers(3)
			for i := range pick(6, 15) {
				time.Sleep(between(c.rng, 300*time.Millisecond, 1500*time.Millisecond))
				cs.kill(c.rng.IntN(3), between(c.rng, 0, 500*time.Millisecond))
				switch {
				case i == 2:
					kafkaDown(syscall.SIGKILL, func(c *cluster) time.Duration { return between(c.rng, time.Second, 3*time.Second) })(c)
				case i == 8:
					c.db.restart(c.t, true)
					c.mark("restarted", c.opt.Relays)
				}
			}
		},
		after: func(c *cluster, ledgers []string) (bool, []string) {
			began := time.Now()
			v := cs.check(ledgers, 3*time.Minute)
			c.t.Logf("INBOX RESULT %s | events %d | applied %d | lost %d | applied twice %d | order violations %d | unknown %d | consumer kills %d | redeliveries dropped by the inbox ≥ %d | caught up in %s",
				c.t.Name(), v.Committed, v.Applied, v.Lost, v.AppliedTwice, v.OrderViolations, v.Unknown, cs.kills, cs.dropped(),
				time.Since(began).Round(100*time.Millisecond))
			if v.Committed == 0 || v.Lost != 0 || v.AppliedTwice != 0 || v.OrderViolations != 0 || v.Unknown != 0 {
				c.t.Fatalf("inbox: %+v", v)
			}
			return false, nil
		},
	}.run(t)
}
