// Package testenv connects tests to the real PostgreSQL and Kafka that
// scripts/services.sh starts. A missing service skips the test on a developer's machine
// and fails it when CI=true, so CI never passes by skipping.
//
// It is part of this module's test kit (testkit/), which its own tests, benchmark and
// fault-injection suite share: not an API, and it changes with them.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DatabaseURL is OUTBOX_DATABASE_URL, or the services script's PostgreSQL.
func DatabaseURL() string {
	if u := os.Getenv("OUTBOX_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:55432/outbox?sslmode=disable"
}

// Brokers is OUTBOX_KAFKA_BROKERS, or the services script's Kafka.
func Brokers() []string {
	if b := os.Getenv("OUTBOX_KAFKA_BROKERS"); b != "" {
		return strings.Split(b, ",")
	}
	return []string{"127.0.0.1:59092"}
}

// Need skips the test, or fails it under CI, because service is unavailable.
func Need(t testing.TB, service string, err error) {
	t.Helper()
	msg := service + " is not available (" + err.Error() + "): start it with scripts/services.sh up"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Pool connects to PostgreSQL; closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, DatabaseURL())
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		Need(t, "PostgreSQL", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Name returns a unique lower-case name with prefix, for schemas and topics.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Schema creates a fresh schema, dropped when the test ends.
func Schema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := Name("t")
	if _, err := pool.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE") })
	return name
}

// Client returns a franz-go client with the given options; closed when the test ends.
func Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(Brokers()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		Need(t, "Kafka", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Topic creates a topic with partitions partitions, deleted when the test ends.
func Topic(t testing.TB, partitions int32, configs map[string]*string) string {
	t.Helper()
	return CreateTopic(t, Name("test"), partitions, configs)
}

// CreateTopic creates the topic name, as Topic does: for a test whose events went to a
// topic before it existed.
func CreateTopic(t testing.TB, name string, partitions int32, configs map[string]*string) string {
	t.Helper()
	adm := kadm.NewClient(Client(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	// A client that looks the topic up before every partition has a leader backs off
	// for the metadata refresh interval (5 s): wait until the topic is ready.
	for ready := false; !ready; {
		details, err := adm.ListTopics(ctx, name)
		if ctx.Err() != nil {
			t.Fatalf("topic %s has no leaders after 30s: %v", name, err)
		}
		td := details[name]
		ready = err == nil && td.Err == nil && len(td.Partitions) == int(partitions)
		for _, p := range td.Partitions {
			ready = ready && p.Err == nil && p.Leader >= 0
		}
		if !ready {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, name)
	})
	return name
}

// Consume reads topic from the start until it has n records or timeout passes.
func Consume(t testing.TB, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// ConsumeAll reads topic from the start until it has at least n records and then no new
// one arrives for quiet (so late duplicates are counted too), or until timeout.
func ConsumeAll(t testing.TB, topic string, n int, quiet, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	return Drain(cl, n, quiet, timeout)
}

// Drain polls cl until it has at least n records and then no new one arrives for quiet,
// or until timeout. It needs no test, so processes a test starts can use it too.
func Drain(cl *kgo.Client, n int, quiet, timeout time.Duration) []*kgo.Record {
	deadline := time.Now().Add(timeout)
	var recs []*kgo.Record
	for time.Now().Before(deadline) {
		wait := time.Until(deadline)
		if len(recs) >= n {
			wait = quiet
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cl.PollFetches(ctx)
		cancel()
		before := len(recs)
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if len(recs) >= n && len(recs) == before {
			break
		}
	}
	return recs
}

// FreeAddr is a loopback address whose port is free right now, for a server a test
// starts (a relay's metrics).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Header returns the value of r's first header named key.
func Header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
