package relay_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/relay"
)

// partlyFailing publishes through its Publisher all but the messages of key bad, which
// fail transiently while failing is set: one broker's partitions down, the rest up.
type partlyFailing struct {
	outbox.Publisher
	bad     string
	failing atomic.Bool
	failed  atomic.Int64
}

func (p *partlyFailing) Publish(ctx context.Context, msgs []outbox.Message) error {
	if !p.failing.Load() {
		return p.Publisher.Publish(ctx, msgs)
	}
	errs := make([]error, len(msgs))
	var good []outbox.Message
	var at []int
	for i, m := range msgs {
		if string(m.Key) == p.bad {
			errs[i] = errors.New("orders partition 3 (leader: broker 2): NOT_ENOUGH_REPLICAS")
			p.failed.Add(1)
			continue
		}
		good, at = append(good, m), append(at, i)
	}
	var be *outbox.BatchError
	switch err := p.Publisher.Publish(ctx, good); {
	case errors.As(err, &be):
		for j, e := range be.Errs {
			errs[at[j]] = e
		}
	case err != nil:
		return err
	}
	return &outbox.BatchError{Errs: errs}
}

// A fault of one broker fails its partitions' share of every batch while the rest is
// published: the relay warns once when that begins (then at most every 10 s), naming
// the failing partition, and logs its end once, not a line per batch.
func TestPartialFailuresPaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "postgres", outbox.Limits{})
	pub := &partlyFailing{Publisher: publisher(t), bad: "key-0"}
	logs := &logRecorder{}
	start(t, e.Store, pub, relay.Config{Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: slog.New(logs)})
	ks := keys(20)
	pub.failing.Store(true)
	for range 15 { // 3 s of commits, each with the failing key
		e.commit(t, ks...)
		time.Sleep(200 * time.Millisecond)
	}
	pub.failing.Store(false)
	e.waitDrained(t, 60*time.Second)
	// The run ends with a batch 10 s after its last failure.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if _, ends := logs.counts(); ends > 0 {
			break
		}
		e.commit(t, ks...)
		time.Sleep(time.Second)
	}
	warns, ends := logs.counts()
	named := logs.count(func(r slog.Record) bool {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = found || a.Key == "errors" && strings.Contains(a.Value.String(), "partition 3 (leader: broker 2)")
			return !found
		})
		return isWarn(r) && found
	})
	t.Logf("%d failed attempts of key-0: %d warnings (%d naming the partition), %d recoveries", pub.failed.Load(), warns, named, ends)
	if pub.failed.Load() < 3 {
		t.Fatalf("key-0 failed %d times: the fault was not injected", pub.failed.Load())
	}
	if warns != 1 || named != 1 || ends != 1 {
		t.Fatalf("%d warnings (%d naming the partition) and %d recoveries for a 3 s partial fault: want 1, 1 and 1", warns, named, ends)
	}
}
