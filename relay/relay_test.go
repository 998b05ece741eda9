package relay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// env is one test's outbox (its own schema, table or file) on one of the test
// databases, and its topic, on the real services.
type env struct {
	*testenv.Outbox
	topic  string
	ledger testenv.Ledger
}

// newEnv makes an env on db, or on PostgreSQL in WAL mode for db "wal".
func newEnv(t *testing.T, db string, lim outbox.Limits) *env {
	t.Helper()
	if db == "wal" {
		return &env{Outbox: testenv.NewWALOutbox(t, lim), topic: testenv.Topic(t, 4, nil), ledger: testenv.Ledger{}}
	}
	return &env{Outbox: testenv.NewOutbox(t, db, lim), topic: testenv.Topic(t, 4, nil), ledger: testenv.Ledger{}}
}

// start runs a relay of the env's mode: over the store, or its stream in WAL mode.
func (e *env) start(t *testing.T, pub outbox.Publisher, cfg relay.Config) (stop func()) {
	t.Helper()
	if e.Store.Admin().Mode() == outboxstore.WALMode {
		return startStream(t, e, pub, cfg)
	}
	return start(t, e.Store, pub, cfg)
}

// commit writes the next event of each key in one transaction, like an application.
func (e *env) commit(t *testing.T, keys ...string) {
	t.Helper()
	msgs := make([]outbox.Message, len(keys))
	for i, k := range keys {
		msgs[i] = outbox.Message{Topic: e.topic, Key: []byte(k), Type: "test.event", Payload: testenv.Payload(k, e.ledger[k])}
		e.ledger[k]++
	}
	if err := e.Write(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func (e *env) status(t *testing.T) outboxstore.Status {
	t.Helper()
	st, err := e.Store.Admin().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitDrained waits until no event is pending or in flight.
func (e *env) waitDrained(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := e.status(t)
		if st.Pending == 0 && st.InFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained after %s: %+v", timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func publisher(t *testing.T, opts ...kgo.Opt) *outboxkafka.Publisher {
	t.Helper()
	p, err := outboxkafka.New(testenv.Client(t, append(outboxkafka.ProducerOpts(), opts...)...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs a table-mode relay over store with the tests' defaults (see run).
func start(t *testing.T, store relay.Source, pub outbox.Publisher, cfg relay.Config) (stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	r, err := relay.New(store, pub, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Start(t, r)
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint("key-", i)
	}
	return out
}

func TestEndToEnd(t *testing.T) { testenv.EachDB(t, testEndToEnd) }

func testEndToEnd(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	for i := 0; i < 20; i++ {
		e.commit(t, keys(50)...) // 20 transactions of 50 keys: 1000 events
	}
	ctx := context.Background()
	// Headers and metadata travel.
	want := outbox.Message{Topic: e.topic, Key: []byte("meta"), Type: "order.created", AggregateType: "order",
		AggregateID: "o-1", Payload: testenv.Payload("meta", 0), Headers: map[string]string{"traceparent": "00-abc-def-01"}}
	if err := e.Write(ctx, want); err != nil {
		t.Fatal(err)
	}
	e.ledger["meta"] = 1
	// Written in a request's span: its trace context reaches the consumer.
	request := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xa1, 0x2}, SpanID: trace.SpanID{0xb3, 0x4}, TraceFlags: trace.FlagsSampled,
	})
	traced := outbox.Message{Topic: e.topic, Key: []byte("traced"), Payload: testenv.Payload("traced", 0)}
	if err := e.Write(trace.ContextWithSpanContext(ctx, request), traced); err != nil {
		t.Fatal(err)
	}
	e.ledger["traced"] = 1

	start(t, e.Store, publisher(t), relay.Config{})
	recs := testenv.Consume(t, e.topic, 1002, 60*time.Second)
	if rep := testenv.Verify(e.ledger, recs); rep.Lost+rep.Duplicates+rep.OrderViolations+rep.Foreign > 0 || rep.Received != 1002 {
		t.Fatalf("want 1002 events once each in order: %v", rep)
	}
	for _, r := range recs {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if string(r.Key) == "traced" {
			got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(h)))
			if got.TraceID() != request.TraceID() || got.SpanID() != request.SpanID() || !got.IsSampled() {
				t.Fatalf("the consumer's parent is %v, want the writer's request span %v (headers %v)", got, request, h)
			}
		}
		if string(r.Key) != "meta" {
			continue
		}
		if h["traceparent"] != "00-abc-def-01" || h[outbox.HeaderEventType] != "order.created" ||
			h[outbox.HeaderAggregateType] != "order" || h[outbox.HeaderAggregateID] != "o-1" ||
			len(h[outbox.HeaderEventID]) != 36 || h[outbox.HeaderOccurredAt] == "" {
			t.Fatalf("headers: %v", h)
		}
	}
	e.waitDrained(t, 10*time.Second)
	if st := e.status(t); st.Published != 0 || st.Dead != 0 {
		t.Fatalf("published rows must be deleted by default: %+v", st)
	}
}

// switchDialer lets a test take Kafka away from one client: while down, dials fail and
// the client's open connections are closed.
type switchDialer struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (d *switchDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return nil, errors.New("test: network to Kafka is down")
	}
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *switchDialer) set(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
	if down {
		for _, c := range d.conns {
			_ = c.Close()
		}
		d.conns = nil
	}
}

func TestKafkaDownNothingLost(t *testing.T) { testenv.EachDB(t, testKafkaDown) }

func testKafkaDown(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	d := &switchDialer{}
	var failed atomic.Int64
	logs := &logRecorder{}
	start(t, e.Store, publisher(t, kgo.Dialer(d.dial), kgo.RecordDeliveryTimeout(2*time.Second)), relay.Config{
		MaxAttempts: 1, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, Logger: slog.New(logs),
		Hooks: relay.Hooks{Batch: func(s relay.BatchStats) { failed.Add(int64(s.Failed)) }},
	})
	ks := keys(20)
	e.commit(t, ks...)
	time.Sleep(500 * time.Millisecond)
	d.set(true)
	for i := 0; i < 10; i++ { // committed while Kafka is unreachable
		e.commit(t, ks...)
		time.Sleep(300 * time.Millisecond)
	}
	if failed.Load() == 0 {
		t.Fatal("no publish failed while Kafka was unreachable: the fault was not injected")
	}
	d.set(false)
	back := time.Now()
	for i := 0; i < 5; i++ {
		e.commit(t, ks...)
	}
	e.waitDrained(t, 90*time.Second)
	recovered := time.Since(back)
	recs := testenv.Consume(t, e.topic, 16*20, 90*time.Second)
	rep := testenv.Verify(e.ledger, recs)
	t.Logf("Kafka down ~3s, %d failed attempts, drained %s after it came back: %v", failed.Load(), recovered.Round(time.Millisecond), rep)
	if rep.Lost > 0 || rep.OrderViolations > 0 || rep.Foreign > 0 {
		t.Fatalf("after the outage: %v", rep)
	}
	e.waitDrained(t, 10*time.Second)
	if st := e.status(t); st.Dead != 0 {
		t.Fatalf("an outage dead-lettered events (MaxAttempts 1): %+v", st)
	}
	// The outage reads as one: its start (and one line per 10 s), then its end, logged
	// by a batch 10 s after the last failure; not a warning per failed attempt.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if _, ends := logs.counts(); ends > 0 {
			break
		}
		e.commit(t, ks[0])
		time.Sleep(time.Second)
	}
	warns, ends := logs.counts()
	t.Logf("logs of the outage: %d warnings, %d recoveries, for %d failed attempts", warns, ends, failed.Load())
	if warns < 1 || warns > 3 || ends < 1 {
		t.Errorf("%d warnings and %d recoveries logged for a ~3 s outage: want 1 to 3, and a recovery", warns, ends)
	}
}

// logRecorder keeps a relay's log records, for tests that count them.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// count is how many records match.
func (h *logRecorder) count(match func(r slog.Record) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if match(r) {
			n++
		}
	}
	return n
}

func isWarn(r slog.Record) bool                       { return r.Level == slog.LevelWarn }
func isRecovery(r slog.Record) bool                   { return strings.HasSuffix(r.Message, " recovered") }
func (h *logRecorder) counts() (warns, recovered int) { return h.count(isWarn), h.count(isRecovery) }

// Three relays share one outbox while each one's network to Kafka fails and returns at
// random: every event arrives, in order per key, despite the retries in between.
func TestThreeRelaysWithRetries(t *testing.T) { testenv.EachDB(t, testThreeRelays) }

func testThreeRelays(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	dialers := []*switchDialer{{}, {}, {}}
	var failed atomic.Int64
	for _, d := range dialers {
		start(t, e.Store, publisher(t, kgo.Dialer(d.dial)), relay.Config{
			BatchSize: 50, Backoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
			Hooks: relay.Hooks{Batch: func(s relay.BatchStats) { failed.Add(int64(s.Failed)) }},
		})
	}
	stopFaults := make(chan struct{})
	faultsDone := make(chan struct{})
	go func() { // each round, one relay loses Kafka for 300-900ms
		defer close(faultsDone)
		for i := 0; ; i++ {
			d := dialers[i%3]
			d.set(true)
			select {
			case <-stopFaults:
				d.set(false)
				return
			case <-time.After(300*time.Millisecond + time.Duration(i%7)*100*time.Millisecond):
			}
			d.set(false)
		}
	}()
	ks := keys(40)
	for i := 0; i < 60; i++ { // 2400 events, a commit of 40 keys every 50ms
		e.commit(t, ks...)
		time.Sleep(50 * time.Millisecond)
	}
	close(stopFaults)
	<-faultsDone
	e.waitDrained(t, 60*time.Second)
	recs := testenv.ConsumeAll(t, e.topic, 2400, 2*time.Second, 60*time.Second)
	rep := testenv.Verify(e.ledger, recs)
	t.Logf("3 relays, rolling Kafka faults, %d failed attempts: %v", failed.Load(), rep)
	if failed.Load() == 0 {
		t.Fatal("no attempt failed: the faults were not injected")
	}
	if rep.Lost != 0 || rep.OrderViolations != 0 || rep.Foreign != 0 {
		t.Fatalf("3 relays with retries: %v", rep)
	}
}

func kgoConsume(topic string) []kgo.Opt {
	return []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
}

// waitRecord polls until the record with value arrives, failing the test after timeout.
func waitRecord(t *testing.T, cl *kgo.Client, value []byte, timeout time.Duration) *kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			if bytes.Equal(r.Value, value) {
				return r
			}
		}
	}
	t.Fatalf("record %q not there within %s", value, timeout)
	return nil
}
