package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/relay"
)

// newWALEnv is an env in WAL mode: PostgreSQL, a slot and publication of its own.
func newWALEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	return &env{Outbox: testenv.NewWALOutbox(t, outbox.Limits{}), topic: testenv.Topic(t, partitions, nil), ledger: testenv.Ledger{}}
}

// startStream runs a WAL-mode relay like start does a table-mode one.
func startStream(t *testing.T, e *env, pub outbox.Publisher, cfg relay.Config) (stop func()) {
	t.Helper()
	cfg.Logger = quietLogger()
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	s, err := e.Store.Stream(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.NewStream(s, pub, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return 30s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Events written in transactions reach Kafka in commit order: per key on a topic of
// several partitions, and in total on one of a single partition.
func TestStreamOrder(t *testing.T) {
	for _, partitions := range []int32{1, 4} {
		e := newWALEnv(t, partitions)
		startStream(t, e, publisher(t), relay.Config{BatchSize: 50})
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
