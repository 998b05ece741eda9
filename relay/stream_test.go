package relay_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// newWALEnv is an env in WAL mode on a topic of partitions partitions.
func newWALEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	return &env{Outbox: testenv.NewWALOutbox(t, outbox.Limits{}), topic: testenv.Topic(t, partitions, nil), ledger: testenv.Ledger{}}
}

// startStream runs a WAL-mode relay like start does a table-mode one.
func startStream(t *testing.T, e *env, pub outbox.Publisher, cfg relay.Config) (stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	r, err := relay.New(e.Store, pub, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Start(t, r)
}

// Events written in transactions reach Kafka in commit order: per key on a topic of
// several partitions, and in total on one of a single partition, also when a batch
// gathers the transactions that commit within BatchWait.
func TestStreamOrder(t *testing.T) {
	for _, tc := range []struct {
		partitions int32
		wait       time.Duration
	}{{1, 0}, {4, 0}, {1, 5 * time.Millisecond}} {
		partitions := tc.partitions
		e := newWALEnv(t, partitions)
		startStream(t, e, publisher(t), relay.Config{BatchSize: 50, BatchWait: tc.wait})
		ks := keys(20)
		for range 30 {
			e.commit(t, ks...)
		}
		recs := testenv.ConsumeAll(t, e.topic, 600, time.Second, 30*time.Second)
		if rep := testenv.Verify(e.ledger, recs); rep.Received != 600 || rep.Duplicates > 0 || !rep.OK() {
			t.Fatalf("%d partitions: %v", partitions, rep)
		}
		if partitions == 1 {
			for i, r := range recs { // commit i wrote keys 0..19, each at its i-th event
				if want := string(testenv.Payload(ks[i%20], i/20)); string(r.Value) != want {
					t.Fatalf("record %d is %q, want %q: not in commit order", i, r.Value, want)
				}
			}
		}
	}
}

// A rolled-back transaction emits nothing, and a message of the outbox's prefix that is
// no envelope this relay knows is dead-lettered with the reason while the stream goes on.
func TestStreamRollbackAndMalformed(t *testing.T) {
	e := newWALEnv(t, 4)
	ctx := context.Background()
	var seen atomic.Int64
	count := func(ev relay.EventStats) {
		if ev.Outcome == relay.Dead && ev.Failure == relay.Malformed {
			seen.Add(1)
		}
	}
	startStream(t, e, publisher(t), relay.Config{Hooks: relay.Hooks{Event: count}})
	e.commit(t, "a", "b")
	if err := e.Rollback(ctx, outbox.Message{Topic: e.topic, Key: []byte("a"), Payload: []byte("a/rolled-back")}); err != nil {
		t.Fatal(err)
	}
	prefix := e.Schema + ".outbox"
	for _, content := range []string{`\x09`, `\x0100`} { // an unknown version; version 1 cut short
		if err := e.Exec(ctx, `SELECT pg_logical_emit_message(true, $1, $2::bytea)`, prefix, content); err != nil {
			t.Fatal(err)
		}
	}
	e.commit(t, "a", "b")
	recs := testenv.ConsumeAll(t, e.topic, 4, time.Second, 30*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Received != 4 || !rep.OK() {
		t.Fatalf("around a rolled-back transaction and malformed messages: %v", rep)
	}
	dead, err := e.Store.Admin().Dead(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 || !strings.Contains(dead[0].Error, "unknown envelope version 9") ||
		!strings.Contains(dead[1].Error, "malformed envelope") || seen.Load() != 2 {
		t.Fatalf("want both malformed messages dead with their reasons (hook saw %d): %+v", seen.Load(), dead)
	}
}

// One transaction of 100,000 events, between smaller ones: all of them arrive, in order.
func TestStreamLargeTransaction(t *testing.T) {
	e := newWALEnv(t, 4)
	startStream(t, e, publisher(t), relay.Config{BatchSize: 2000})
	e.commit(t, "a", "b")
	const n = 100_000
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprint("k", i%100)
	}
	e.commit(t, ks...)
	e.commit(t, "a", "b")
	recs := testenv.ConsumeAll(t, e.topic, n+4, 2*time.Second, 120*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Received < n+4 || !rep.OK() {
		t.Fatalf("a transaction of %d events: %v", n, rep)
	}
}

// outage is a publisher that fails every call, transiently, while down is set.
type outage struct {
	outbox.Publisher
	down atomic.Bool
}

func (o *outage) Publish(ctx context.Context, msgs []outbox.Message) error {
	if o.down.Load() {
		return errors.New("kafka unreachable (test outage)")
	}
	return o.Publisher.Publish(ctx, msgs)
}

// While Kafka is out of reach nothing is confirmed, so nothing can be lost; once it is
// back, what was written meanwhile follows in order.
func TestStreamKafkaOutage(t *testing.T) {
	e := newWALEnv(t, 4)
	pub := &outage{Publisher: publisher(t)}
	// A round lives ShutdownTimeout+PublishTimeout (750 ms here): the outage outlasts it.
	startStream(t, e, pub, relay.Config{Backoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, LeaseTTL: time.Second,
		ShutdownTimeout: 500 * time.Millisecond})
	ks := keys(10)
	e.commit(t, ks...)
	testenv.Consume(t, e.topic, 10, 30*time.Second)
	pub.down.Store(true)
	e.commit(t, ks...)
	// Past the first transaction of the outage; a heartbeat just before it may be
	// confirmed, nothing after it.
	pool := testenv.Pool(t)
	first := e.lsn(t, pool, "pg_current_wal_lsn()")
	for range 19 {
		e.commit(t, ks...)
	}
	time.Sleep(2 * time.Second) // heartbeats flow meanwhile: they must not move the slot past the events
	if confirmed := e.lsn(t, pool, "confirmed_flush_lsn"); confirmed >= first {
		t.Fatalf("slot confirmed %d, past the first transaction written while Kafka was down (%d)", confirmed, first)
	}
	pub.down.Store(false)
	recs := testenv.ConsumeAll(t, e.topic, 210, time.Second, 30*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Received != 210 || !rep.OK() {
		t.Fatalf("after the outage: %v", rep)
	}
}

// lsn reads an LSN of the env's slot with pool: what (a column of pg_replication_slots
// or an expression) as a number. The caller keeps one pool: a poll that made its own
// each time would hold a connection per poll until the test ends.
func (e *env) lsn(t *testing.T, pool *pgxpool.Pool, what string) int64 {
	t.Helper()
	var n int64
	slot, err := e.Store.Admin().Slot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = pool.QueryRow(context.Background(),
		`SELECT pg_wal_lsn_diff(`+what+`, '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1`, slot.Name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A database that writes no events does not make the slot hold WAL: the relays'
// heartbeats let it confirm past WAL written elsewhere on the server.
func TestStreamQuietDatabase(t *testing.T) {
	e := newWALEnv(t, 1)
	startStream(t, e, publisher(t), relay.Config{LeaseTTL: time.Second}) // heartbeat every 333 ms
	e.commit(t, "a")
	testenv.Consume(t, e.topic, 1, 30*time.Second)
	other, err := pgxpool.New(context.Background(), strings.Replace(testenv.DatabaseURL(), "/outbox", "/postgres", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	name := testenv.Name("quiet")
	for _, q := range []string{`CREATE TABLE ` + name + ` (x text)`, `INSERT INTO ` + name + ` SELECT repeat('x', 100) FROM generate_series(1, 10000)`} {
		if _, err := other.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	defer other.Exec(context.Background(), `DROP TABLE `+name) //nolint:errcheck
	pool := testenv.Pool(t)
	after := e.lsn(t, pool, "pg_current_wal_lsn()")
	deadline := time.Now().Add(10 * time.Second)
	for e.lsn(t, pool, "confirmed_flush_lsn") < after {
		if time.Now().After(deadline) {
			t.Fatalf("slot still confirms %d, behind %d, 10 s after WAL written in another database", e.lsn(t, pool, "confirmed_flush_lsn"), after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A standby waiting for the slot stops at once when its context ends, and the reader
// goes on; then the reader stops too, leaving the slot free.
func TestStreamStandbyStops(t *testing.T) {
	e := newWALEnv(t, 1)
	stopReader := startStream(t, e, publisher(t), relay.Config{})
	e.commit(t, "a")
	testenv.Consume(t, e.topic, 1, 30*time.Second)
	stopStandby := startStream(t, e, publisher(t), relay.Config{})
	time.Sleep(500 * time.Millisecond) // the standby waits on the reader's lock by now
	began := time.Now()
	stopStandby()
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("a waiting standby took %s to stop", d)
	}
	e.commit(t, "a")
	if recs := testenv.ConsumeAll(t, e.topic, 2, time.Second, 30*time.Second); len(recs) != 2 {
		t.Fatalf("after the standby stopped, the reader relayed %d of 2", len(recs))
	}
	stopReader()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if slot, err := e.Store.Admin().Slot(context.Background()); err == nil && !slot.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot is still read 5 s after the last relay stopped")
		}
	}
}
