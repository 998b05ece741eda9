package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    *Config
		wantIn []string // nil = valid
	}{
		{"nil is defaults", nil, nil},
		{"zero is defaults", &Config{}, nil},
		{"every negative field named", &Config{BatchSize: -1, LeaseTTL: -time.Second, Backoff: -1},
			[]string{"BatchSize is negative", "LeaseTTL is negative", "Backoff is negative"}},
		{"lease too short", &Config{LeaseTTL: 100 * time.Millisecond}, []string{"LeaseTTL 100ms is under 1s"}},
		{"publish outlives lease", &Config{LeaseTTL: 3 * time.Second, PublishTimeout: 2 * time.Second},
			[]string{"PublishTimeout 2s must be under LeaseTTL/3"}},
		{"backoff inverted", &Config{Backoff: time.Minute, MaxBackoff: time.Second}, []string{"MaxBackoff 1s is under Backoff 1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantIn == nil {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if !errors.Is(err, outbox.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := (*Config)(nil).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 500 || c.LeaseTTL != 15*time.Second || c.PublishTimeout != 15*time.Second/4 ||
		c.MaxAttempts != 5 || c.ID == "" || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for i := 0; i < 1000; i++ {
		if d := jitter(time.Second); d < time.Second/2 || d >= time.Second {
			t.Fatalf("jitter(1s) = %s, want within [500ms, 1s)", d)
		}
	}
}

func TestNewRequiresStoreAndPublisher(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, nil, nil); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Fatalf("New(nil, nil): %v", err)
	}
}

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	b := backoff{base: 100 * time.Millisecond, max: 400 * time.Millisecond}
	for i, want := range []time.Duration{100, 200, 400, 400} { // doubling, then capped
		b.failAndPause()
		want *= time.Millisecond
		if p := b.pause(); p < want/2-5*time.Millisecond || p > want {
			t.Fatalf("failure %d: pause %s, want within [%s, %s]", i+1, p, want/2, want)
		}
		b.until = time.Time{} // next delay measured on its own
	}
	b.succeed()
	b.failAndPause()
	if p := b.pause(); p > 100*time.Millisecond {
		t.Fatalf("after ok the schedule must restart at Backoff, pause %s", p)
	}
}

// A run of failures is logged at its first, then once every logEvery, each with when it
// began; a success ends it once settle has passed without a failure (at once without
// settle), and reports how long the failures went on.
func TestBackoffPacesLogs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b := backoff{base: time.Millisecond, max: time.Millisecond, settle: logEvery, now: func() time.Time { return now }}
	began := now
	var logged []int
	for i := 1; i <= 25; i++ { // one failure a second
		log, since, n := b.failAndPause()
		if !since.Equal(began) || n != i {
			t.Fatalf("failure %d: since %s, failures %d", i, since, n)
		}
		if log {
			logged = append(logged, i)
		}
		now = now.Add(time.Second)
	}
	if fmt.Sprint(logged) != "[1 11 21]" {
		t.Errorf("logged failures %v, want [1 11 21]: the first, then one every %s", logged, logEvery)
	}
	if n, _ := b.succeed(); n != 0 {
		t.Errorf("ok 1 s after a failure ended the run of %d: want it to go on until %s without one", n, logEvery)
	}
	if log, _, n := b.failWithoutPause(); log || n != 26 {
		t.Errorf("a part of a batch failed within the run: log %v, failures %d; want not logged, 26", log, n)
	}
	now = now.Add(logEvery)
	if n, lasted := b.succeed(); n != 26 || lasted != 25*time.Second {
		t.Errorf("ok %s after the last failure: %d failures over %s, want 26 over 25s", logEvery, n, lasted)
	}
	now = now.Add(time.Hour)
	if log, since, n := b.failAndPause(); !log || !since.Equal(now) || n != 1 {
		t.Errorf("a new run: log %v, since %s, failures %d; want logged, now, 1", log, since, n)
	}
	// Without settle (a lease sync, an attach), the first success ends the run.
	b.settle = 0
	if n, _ := b.succeed(); n != 1 {
		t.Errorf("ok without settle ended a run of %d failures, want 1", n)
	}
}

// txFake is a publisher with a transactor's methods, for the configuration checks.
type txFake struct{ outbox.Publisher }

func (txFake) Fence(context.Context, int) ([]byte, error) { return nil, nil }
func (txFake) PublishTx(context.Context, int, []outbox.Message, []outbox.Ack, func([]bool) []byte) error {
	return nil
}
func (txFake) Release(int) {}

// ExactlyOnce needs a transactional publisher, and a transactional publisher needs
// ExactlyOnce: each mismatch is refused with its fix.
func TestExactlyOnceNeedsATransactionalPublisher(t *testing.T) {
	t.Parallel()
	var plain plainPub
	for _, c := range []struct {
		pub     outbox.Publisher
		exactly bool
		fix     string
	}{{plain, true, "outboxkafka.NewExactlyOnce"}, {txFake{plain}, false, "set Config.ExactlyOnce"}} {
		_, err := newRelay(c.pub, &Config{ExactlyOnce: c.exactly})
		if !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), c.fix) {
			t.Errorf("ExactlyOnce %v: %v, want ErrInvalidConfig naming %q", c.exactly, err, c.fix)
		}
	}
	if r, err := newRelay(txFake{plain}, &Config{ExactlyOnce: true}); err != nil || r.tx == nil {
		t.Fatalf("a transactional publisher with ExactlyOnce: %v", err)
	}
}

type plainPub struct{}

func (plainPub) Publish(context.Context, []outbox.Message) error { return nil }
