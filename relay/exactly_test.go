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
	testenv.Client(t) // Kafka is up, or the test fails (CI) or skips
	p, err := outboxkafka.NewExactlyOnce([]kgo.Opt{kgo.SeedBrokers(testenv.Brokers()...)}, &outboxkafka.ExactlyOnceConfig{
		ID: testenv.Name("eos"), ProgressTopic: testenv.Name("progress"), ProgressPartitions: 8,
	})
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

// lostAnswers commits the first transactions it is given, then tells the relay they
// failed: as if the relay crashed between Kafka's commit and the database's, or lost
// the answer to its commit.
type lostAnswers struct {
	*outboxkafka.ExactlyOnce
	left atomic.Int32
}

func (l *lostAnswers) PublishTx(ctx context.Context, unit int, msgs []outbox.Message, acks []outbox.Ack, progress func([]bool) []byte) error {
	err := l.ExactlyOnce.PublishTx(ctx, unit, msgs, acks, progress)
	if err == nil && l.left.Add(-1) >= 0 {
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
	for range 20 {
		e.commit(t, keys(50)...)
	}
	pub := &lostAnswers{ExactlyOnce: exactlyOnce(t)}
	pub.left.Store(3)
	logs := &logRecorder{}
	cfg := relay.Config{ExactlyOnce: true, BatchSize: 100, Logger: slog.New(logs)}
	var failed *failedCommits
	if db == "wal" {
		startStream(t, e, pub, cfg)
	} else {
		failed = &failedCommits{Source: e.Store}
		failed.left.Store(3)
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
