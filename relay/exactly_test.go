package relay_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// exactlyOnce is an exactly-once publisher with a progress topic of the test's own.
func exactlyOnce(t *testing.T) *outboxkafka.ExactlyOnce {
	t.Helper()
	return exactlyOnceAs(t, outboxkafka.ExactlyOnceConfig{ID: testenv.Name("eos"), ProgressTopic: testenv.Name("progress"), ProgressPartitions: 8})
}

// exactlyOnceAs is an exactly-once publisher of the outbox cfg names: several of them
// are several relays' of one outbox.
func exactlyOnceAs(t *testing.T, cfg outboxkafka.ExactlyOnceConfig) *outboxkafka.ExactlyOnce {
	t.Helper()
	testenv.Client(t) // Kafka is up, or the test fails (CI) or skips
	p, err := outboxkafka.NewExactlyOnce([]kgo.Opt{kgo.SeedBrokers(testenv.Brokers()...)}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// consumeCommitted reads topic as a read_committed consumer does, until n records and
// then quiet.
func consumeCommitted(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := testenv.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	return testenv.Drain(cl, n, 2*time.Second, 60*time.Second)
}

// lostAnswers commits the first transactions it is given once armed, then tells the
// relay they failed: as if the relay crashed between Kafka's commit and the
// database's, or lost the answer to its commit.
type lostAnswers struct {
	*outboxkafka.ExactlyOnce
	left  atomic.Int32
	armed func() bool // nil: from the first transaction
}

func (l *lostAnswers) PublishTx(ctx context.Context, unit int, msgs []outbox.Message, acks []outbox.Ack, progress func([]bool) []byte) error {
	err := l.ExactlyOnce.PublishTx(ctx, unit, msgs, acks, progress)
	if err == nil && (l.armed == nil || l.armed()) && l.left.Add(-1) >= 0 {
		return errors.New("injected: the commit's answer was lost")
	}
	return err
}

// failedCommits makes the database's commit of the first batches fail, after their
// transactions committed in Kafka.
type failedCommits struct {
	relay.Source
	left atomic.Int32
}

func (f *failedCommits) RelaySource() (source.Outbox, error) {
	o, err := f.Source.RelaySource()
	if o.Table != nil {
		o.Table = commitFailStore{Store: o.Table, f: f}
	}
	return o, err
}

type commitFailStore struct {
	source.Store
	f *failedCommits
}

func (s commitFailStore) Claim(ctx context.Context, p *source.ClaimParams) (source.Batch, error) {
	b, err := s.Store.Claim(ctx, p)
	if b == nil || err != nil {
		return b, err
	}
	return &commitFailBatch{Batch: b, f: s.f}, nil
}

type commitFailBatch struct {
	source.Batch
	f *failedCommits
}

func (b *commitFailBatch) Commit(ctx context.Context) error {
	if b.f.left.Add(-1) >= 0 {
		_ = b.Batch.Rollback(ctx)
		return errors.New("injected: the database's commit failed")
	}
	return b.Batch.Commit(ctx)
}

// Each failure point between Kafka's commit and the database's: a commit whose answer
// is lost, and (table mode) a database commit that fails. The events those
// transactions carried are settled from the progress, not sent again: a read_committed
// consumer gets each event once, in order.
func TestExactlyOnceFailurePoints(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db string) { testFailurePoints(t, db) })
	t.Run("wal", func(t *testing.T) { testFailurePoints(t, "wal") })
}

func testFailurePoints(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	// Many keys a bucket, and retries slower than the drain: while a lost answer's rows
	// wait for their retry, the bucket's other keys go on, so their batches must settle
	// the carried rows they did not claim.
	for range 2 {
		e.commit(t, keys(500)...)
	}
	pub := &lostAnswers{ExactlyOnce: exactlyOnce(t)}
	pub.left.Store(3)
	logs := &logRecorder{}
	cfg := relay.Config{ExactlyOnce: true, BatchSize: 100, Backoff: 2 * time.Second, Logger: slog.New(logs)}
	if db == "wal" {
		startStream(t, e, pub, cfg)
	} else {
		// The failed commits first, then the lost answers: a lost answer in a batch
		// whose commit fails would be recovered as a failed commit is.
		failed := &failedCommits{Source: e.Store}
		failed.left.Store(3)
		pub.armed = func() bool { return failed.left.Load() < 0 }
		start(t, failed, pub, cfg)
	}
	recs := consumeCommitted(t, e.topic, 1000)
	t.Cleanup(func() {
		if t.Failed() {
			logs.dump(t)
		}
	})
	if rep := testenv.Verify(e.ledger, recs); rep.Lost+rep.Duplicates+rep.OrderViolations+rep.Foreign > 0 || rep.Received != 1000 {
		t.Fatalf("want 1000 events once each in order: %v", rep)
	}
	e.waitDrained(t, 30*time.Second)
	settled := logs.count(func(r slog.Record) bool {
		return strings.HasPrefix(r.Message, "settling events") || strings.HasPrefix(r.Message, "skipping events")
	})
	if settled == 0 {
		t.Error("no batch settled events from the progress: the failure points were not reached")
	}
	if pub.left.Load() >= 0 {
		t.Error("fewer than 3 commits' answers were lost: the failure point was not reached")
	}
	uncommitted := len(testenv.ConsumeAll(t, e.topic, 1000, time.Second, 30*time.Second))
	t.Logf("%s: %d events once each; %d recoveries from the progress; a read_uncommitted reader saw %d records",
		db, len(recs), settled, uncommitted)
}

// dump logs the relay's records, the first 40 of them, for a failed test.
func (h *logRecorder) dump(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, r := range h.recs {
		if i == 40 {
			break
		}
		var sb strings.Builder
		r.Attrs(func(a slog.Attr) bool { sb.WriteString(" " + a.String()); return true })
		t.Logf("relay: %s %s%s", r.Level, r.Message, sb.String())
	}
}

// stall holds its first transaction open, its events sent but not committed, until
// resumed: a relay frozen mid-batch, past its leases.
type stall struct {
	*outboxkafka.ExactlyOnce
	once            atomic.Bool
	stalled, resume chan struct{}
	err             error // the stalled transaction's result
	done            chan struct{}
}

func (s *stall) PublishTx(ctx context.Context, unit int, msgs []outbox.Message, acks []outbox.Ack, progress func([]bool) []byte) error {
	if !s.once.CompareAndSwap(false, true) {
		return s.ExactlyOnce.PublishTx(ctx, unit, msgs, acks, progress)
	}
	// Frozen, the relay's publish deadline would pass unseen: its commit is attempted.
	s.err = s.ExactlyOnce.PublishTx(context.WithoutCancel(ctx), unit, msgs, acks, func(sent []bool) []byte {
		close(s.stalled)
		<-s.resume
		return progress(sent)
	})
	close(s.done)
	return s.err
}

// A relay that stalls with a transaction open, its events sent, past its leases: the
// relay that takes its buckets over fences it, so its late commit fails and nothing
// it sent is visible to a read_committed consumer, while a read_uncommitted one sees
// it. The stalled batch's other buckets committed in Kafka but never in the database:
// the new owner settles them from the progress.
func TestExactlyOnceFencesStalledRelay(t *testing.T) { testenv.EachDB(t, testFencesStalled) }

func testFencesStalled(t *testing.T, db string) {
	e := newEnv(t, db, outbox.Limits{})
	for range 20 {
		e.commit(t, keys(50)...)
	}
	cfg := outboxkafka.ExactlyOnceConfig{ID: testenv.Name("eos"), ProgressTopic: testenv.Name("progress"), ProgressPartitions: 8}
	a := &stall{ExactlyOnce: exactlyOnceAs(t, cfg), stalled: make(chan struct{}), resume: make(chan struct{}), done: make(chan struct{})}
	ra, err := relay.New(e.Store, a, &relay.Config{ID: "stalled", ExactlyOnce: true, BatchSize: 100, LeaseTTL: 3 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { aDone <- ra.Run(actx) }()
	select {
	case <-a.stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("relay A never stalled")
	}
	stopA() // its leases are no longer renewed; its stalled batch goes on holding them

	start(t, e.Store, exactlyOnceAs(t, cfg), relay.Config{ID: "successor", ExactlyOnce: true, BatchSize: 100})
	e.waitDrained(t, 60*time.Second)
	close(a.resume)
	<-a.done
	if a.err == nil {
		t.Error("the stalled relay's late commit succeeded: it was not fenced")
	}
	select {
	case <-aDone:
	case <-time.After(30 * time.Second):
		t.Error("relay A did not stop")
	}
	recs := consumeCommitted(t, e.topic, 1000)
	if rep := testenv.Verify(e.ledger, recs); rep.Lost+rep.Duplicates+rep.OrderViolations+rep.Foreign > 0 || rep.Received != 1000 {
		t.Fatalf("want 1000 events once each in order: %v", rep)
	}
	uncommitted := testenv.ConsumeAll(t, e.topic, 1000, time.Second, 30*time.Second)
	if len(uncommitted) <= 1000 {
		t.Errorf("a read_uncommitted reader saw %d records: the stalled transaction's should be among them", len(uncommitted))
	}
	t.Logf("%s: stalled commit failed with %v; read_committed %d, read_uncommitted %d", db, a.err, len(recs), len(uncommitted))
}

// An outbox made anew (its seqs start again) under the same exactly-once ID: the last
// progress of the old one names seqs the new one uses again, for other events. They
// are told apart by their event ids, so every new event is sent.
func TestExactlyOnceOutboxMadeAnew(t *testing.T) { testenv.EachDB(t, testOutboxMadeAnew) }

func testOutboxMadeAnew(t *testing.T, db string) {
	cfg := outboxkafka.ExactlyOnceConfig{ID: testenv.Name("eos"), ProgressTopic: testenv.Name("progress"), ProgressPartitions: 8}
	for range 2 {
		e := newEnv(t, db, outbox.Limits{})
		for range 4 {
			e.commit(t, keys(50)...)
		}
		stop := start(t, e.Store, exactlyOnceAs(t, cfg), relay.Config{ExactlyOnce: true})
		recs := consumeCommitted(t, e.topic, 200)
		stop()
		if rep := testenv.Verify(e.ledger, recs); rep.Lost+rep.Duplicates+rep.OrderViolations+rep.Foreign > 0 || rep.Received != 200 {
			t.Fatalf("want 200 events once each in order: %v", rep)
		}
	}
}
