//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/firstunicorn/outbox/testkit/faultproxy"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// options shape one scenario's cluster. (The PG proxy fronts the cluster's database,
// whichever it is.)
type options struct {
	Relays, Workers, Batch int
	LeaseTTL               time.Duration
	// The first ProxyDB relays reach the database through a fault proxy, the first
	// ProxyKafka relays reach Kafka through one; the others connect directly.
	ProxyDB    int
	ProxyKafka int
	Partitions int32
	// KafkaCluster runs the scenario on the three-node cluster (services.sh up
	// kafka-cluster), its topic replicated 3 times with min.insync.replicas=2.
	KafkaCluster bool
	// ExactlyOnce runs the relays with --exactly-once; the verifier then reads
	// read_committed, expects no duplicate, and counts what read_uncommitted shows.
	ExactlyOnce bool
}

// cluster is one scenario run: an outbox schema, a topic, relay processes, the proxies
// in front of them, and the record of when faults ended.
type cluster struct {
	t       *testing.T
	rng     *rand.Rand
	opt     options
	db      database
	schema  string
	topic   string
	dir     string
	brokers []string // the scenario's Kafka: the single broker, or the cluster

	dbProxy, kafkaProxy *faultproxy.Proxy

	mu     sync.Mutex
	relays []*proc
	n      int     // relays started so far
	marks  []int64 // when faults ended, Unix ms
	labels []string
	hit    int // relays hit by faults that may duplicate their batches in flight
	// rewinds counts the faults that moved a WAL-mode cluster's slot back: PostgreSQL
	// restarted (15 writes a slot's confirmed position to disk only when its restart
	// point moves, about every 15 s under load) or failed over (the standby's copy of the
	// slot trails the primary's). The relay resumes from the position it saved instead
	// (every 250 ms), so each may send again that much more than the batches in flight.
	rewinds int
	lag     time.Duration // the standby's, in a run that slows its link
	// committed is the table the writers record their events in, on the HA pair: what
	// the promoted primary holds, against which ghost events are counted.
	committedTable string
	// outboxID and progress are the exactly-once relays' --outbox-id and
	// --progress-topic.
	outboxID, progress string
}

func newCluster(t *testing.T, rng *rand.Rand, dbName string, opt options) *cluster {
	services(t, "up") // a scenario that failed may have left a service down
	db := newDatabase(t, dbName)
	lat := "LogAppendTime" // arrival times come from the broker's clock
	c := &cluster{t: t, rng: rng, opt: opt, db: db, schema: db.schema(), dir: logDir(t), brokers: testenv.Brokers()}
	if opt.KafkaCluster {
		services(t, "up", "kafka-cluster")
		c.brokers = kafkaCluster()
		c.topic = clusterTopic(t, opt.Partitions, map[string]*string{"message.timestamp.type": &lat})
	} else {
		c.topic = testenv.Topic(t, opt.Partitions, map[string]*string{"message.timestamp.type": &lat})
	}
	if opt.ExactlyOnce {
		c.outboxID = testenv.Name("eos")
		compact := "compact"
		cfg := map[string]*string{"cleanup.policy": &compact}
		if opt.KafkaCluster {
			c.progress = clusterTopic(t, 64, cfg)
		} else {
			c.progress = testenv.Topic(t, 64, cfg)
		}
	}
	if out, err := c.outbox("migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if pg := c.postgres(); pg != nil && pg.ha != nil {
		c.committedTable = c.schema + ".chaos_committed"
		if _, err := pg.pool.Exec(context.Background(), "CREATE TABLE "+c.committedTable+" (key text, n int, PRIMARY KEY (key, n))"); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if opt.ProxyDB > 0 {
		if c.dbProxy, err = faultproxy.Listen("127.0.0.1:0", db.addr()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.dbProxy.Close() })
	}
	if opt.ProxyKafka > 0 {
		// The broker's PROXIED listener advertises the proxy's address, so every
		// connection the relays open, after metadata too, goes through the proxy.
		if c.kafkaProxy, err = faultproxy.Listen(env("OUTBOX_KAFKA_PROXY_ADDR", "127.0.0.1:59095"),
			env("OUTBOX_KAFKA_PROXIED_LISTENER", "127.0.0.1:59094")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.kafkaProxy.Close() })
	}
	for range opt.Relays {
		c.relays = append(c.relays, c.startRelay(len(c.relays)))
	}
	t.Cleanup(func() {
		for _, r := range c.relays {
			r.stop(15 * time.Second)
		}
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
			for _, l := range logs {
				b, _ := exec.Command("tail", "-n", "15", l).Output()
				t.Logf("--- %s\n%s", filepath.Base(l), b)
			}
		}
	})
	return c
}

// logDir holds the run's process logs and ledgers: a temporary directory, or one that
// stays when OUTBOX_CHAOS_KEEP is set, to read the logs of a run that passed.
func logDir(t *testing.T) string {
	if os.Getenv("OUTBOX_CHAOS_KEEP") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "outbox-chaos-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("process logs kept in %s", dir)
	return dir
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dsn is the database URL for a process of role, through the proxy if via.
func (c *cluster) dsn(role string, via *faultproxy.Proxy) string { return c.db.url(role, via) }

// outbox runs an operator command against the cluster's outbox.
func (c *cluster) outbox(args ...string) (string, error) {
	args = append(args, "--database-url", c.dsn("chaos-admin", nil), "--schema", c.schema)
	if c.schema == "" {
		args = args[:len(args)-2]
	}
	args = append(args, c.db.flags()...)
	out, err := exec.Command(outboxBin, args...).CombinedOutput()
	return string(out), err
}

// startRelay starts relay process slot i with the scenario's settings.
func (c *cluster) startRelay(i int, extra ...string) *proc {
	var pg *faultproxy.Proxy
	if i < c.opt.ProxyDB {
		pg = c.dbProxy
	}
	brokers := strings.Join(c.brokers, ",")
	if i < c.opt.ProxyKafka {
		brokers = c.kafkaProxy.Addr()
	}
	metrics := testenv.FreeAddr(c.t)
	args := append([]string{"relay", "--database-url", c.dsn("chaos-relay", pg), "--kafka-brokers", brokers,
		"--schema=" + c.schema, "--lease-ttl", c.opt.LeaseTTL.String(),
		"--workers", fmt.Sprint(c.opt.Workers), "--batch-size", fmt.Sprint(c.opt.Batch),
		"--backoff", "100ms", "--max-backoff", "2s", "--max-attempts", "3", "--metrics-addr", metrics}, extra...)
	if c.opt.ExactlyOnce {
		args = append(args, "--exactly-once", "--outbox-id", c.outboxID, "--progress-topic", c.progress)
	}
	args = append(args, c.db.flags()...)
	c.n++
	p := c.start(fmt.Sprintf("relay-%d", c.n), exec.Command(outboxBin, args...))
	p.metrics = metrics
	return p
}

// bound is the most duplicates the faults so far may cause, as the README promises:
// each fault may repeat the batches in flight (Workers x Batch) of each relay it hit;
// in WAL mode, the reader's unconfirmed batch and the one whose confirmation was on
// its way (2 x Batch), plus, for each rewind, the events of twice the relay's 250 ms
// save interval at the run's rate (events per second), and of the standby's lag: after
// an asynchronous failover the saved position is the standby's copy of it.
func (c *cluster) bound(rate float64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opt.ExactlyOnce {
		return 0
	}
	if _, wal := c.db.(*walDB); wal {
		return c.hit*2*c.opt.Batch + c.rewinds*int(math.Ceil(rate*(0.5+c.lag.Seconds())))
	}
	return c.hit * c.opt.Workers * c.opt.Batch
}

// postgres is the cluster's PostgreSQL database, in either mode; nil on the others.
func (c *cluster) postgres() *pgDB {
	switch d := c.db.(type) {
	case *pgDB:
		return d
	case *walDB:
		return d.pgDB
	}
	return nil
}

// mark records that a fault, described by label, which hit relays relays ended now.
func (c *cluster) mark(label string, relays int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.marks = append(c.marks, time.Now().UnixMilli())
	c.labels = append(c.labels, label)
	c.hit += relays
}

// waitDrained waits until `outbox status` shows nothing pending or in flight, or, in
// WAL mode, until the slot confirms the WAL position of now.
func (c *cluster) waitDrained(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	if w, ok := c.db.(*walDB); ok {
		mark, err := w.mark()
		for err == nil {
			var done bool
			if done, err = w.drained(mark); done || time.Now().After(deadline) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil || time.Now().After(deadline) {
			slot, _ := c.outbox("status")
			c.t.Fatalf("slot did not confirm %s within %s (%v): %s", mark, timeout, err, slot)
		}
		return
	}
	for {
		st, err := c.readStatus()
		if err == nil && st.Pending == 0 && st.InFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("outbox not drained after %s: %+v %v", timeout, st, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// verify runs the verifier process over topics and the writers' ledgers.
func (c *cluster) verify(ledgers []string, poison bool, topics ...string) verdict {
	c.mu.Lock()
	cfg := verifierConfig{Brokers: c.brokers, Topics: append([]string{c.topic}, topics...), Ledgers: ledgers,
		Poison: poison, Marks: c.marks, Quiet: 2 * time.Second, Timeout: 3 * time.Minute, ReadCommitted: c.opt.ExactlyOnce}
	c.mu.Unlock()
	if c.committedTable != "" {
		cfg.Database = c.dumpCommitted()
	}
	cmd := self("verifier", cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("verifier: %v\n%s", err, stderr.String())
	}
	var v verdict
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		c.t.Fatalf("verifier output %q: %v", stdout.String(), err)
	}
	return v
}

// self is this test binary as a writer or verifier process.
func self(role string, cfg any) *exec.Cmd {
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OUTBOX_CHAOS_ROLE="+role, "OUTBOX_CHAOS_CONFIG="+string(b))
	return cmd
}

// terminateRelayConns kills every database connection of the relays (their pools' and
// their open batches') and reports how many.
func (c *cluster) terminateRelayConns() int64 { return c.db.killRelayConns() }

// pg is the cluster's PostgreSQL, for the scenarios that need PostgreSQL's own means.
func (c *cluster) pg() *pgxpool.Pool {
	d, ok := c.db.(*pgDB)
	if !ok {
		c.t.Fatal("this scenario runs on PostgreSQL only")
	}
	return d.pool
}

// committed is how many events were ever written to the outbox (its sequence).
func (c *cluster) committed() int64 {
	var n int64
	_ = c.pg().QueryRow(context.Background(), `SELECT coalesce(last_value, 0) FROM pg_sequences
		WHERE schemaname = $1 AND sequencename = 'outbox_seq_seq'`, c.schema).Scan(&n)
	return n
}

// status is `outbox status --json`.
type status struct {
	Pending  int64 `json:"pending"`
	InFlight int64 `json:"in_flight"`
	Dead     int64 `json:"dead"`
}

func (c *cluster) status() status {
	st, err := c.readStatus()
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

func (c *cluster) readStatus() (status, error) {
	var st status
	out, err := c.outbox("status", "--json")
	if err == nil {
		err = json.Unmarshal([]byte(out), &st)
	}
	if err != nil {
		return st, fmt.Errorf("outbox status: %w\n%s", err, out)
	}
	return st, nil
}

// fixPoison removes the causes of the poison events: it creates the missing topic,
// raises the topic's max.message.bytes and restarts the relays with a producer limit
// to match.
func (c *cluster) fixPoison(missing string) {
	adm := kadm.NewClient(testenv.Client(c.t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, missing); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), missing) })
	limit := "4194304"
	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &limit}}, c.topic)
	if err == nil {
		_, err = resp.On(c.topic, nil)
	}
	if err != nil {
		c.t.Fatalf("raise max.message.bytes: %v", err)
	}
	for i, r := range c.relays {
		if err := r.stop(15 * time.Second); err != nil {
			c.t.Errorf("relay %s: %v", r.name, err)
		}
		c.relays[i] = c.startRelay(i, "--max-record-bytes", limit)
	}
}

// census counts the outbox's rows by status, kind of key and attempts, for failure reports.
func (c *cluster) census() string {
	rows, err := c.pg().Query(context.Background(), `SELECT status, split_part(convert_from(key, 'UTF8'), '-', 2), attempts, count(*)
		FROM `+c.schema+`.outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var st, kind string
		var attempts, n int64
		_ = rows.Scan(&st, &kind, &attempts, &n)
		fmt.Fprintf(&b, "[%s %s attempts=%d: %d] ", st, kind, attempts, n)
	}
	return b.String()
}

// dumpCommitted writes the events the database holds (the committed table) to a file
// for the verifier.
func (c *cluster) dumpCommitted() string {
	held := map[string][]int{}
	rows, err := c.postgres().pool.Query(context.Background(), "SELECT key, n FROM "+c.committedTable)
	if err == nil {
		for rows.Next() {
			var (
				k string
				n int
			)
			if err = rows.Scan(&k, &n); err != nil {
				break
			}
			held[k] = append(held[k], n)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		c.t.Fatalf("read %s: %v", c.committedTable, err)
	}
	f := filepath.Join(c.dir, "committed.json")
	b, _ := json.Marshal(held)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return f
}
