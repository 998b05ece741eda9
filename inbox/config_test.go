package inbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxpgx"
)

func nop(context.Context, pgx.Tx, *inbox.Message) error { return nil }

// TestConfigErrors: NewConsumer refuses a bad config before it connects to anything,
// naming each problem and its fix.
func TestConfigErrors(t *testing.T) {
	// A pool connects lazily: nothing here talks to a database.
	pool := must(pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none"))
	defer pool.Close()
	store := must(inbox.NewStore(outboxpgx.New(pool), nil))
	ok := inbox.Config{Group: "g", Topics: []string{"t"}, Brokers: []string{"localhost:9092"}}
	for _, tc := range []struct {
		name string
		edit func(c *inbox.Config)
		want []string
	}{
		{"no group", func(c *inbox.Config) { c.Group = "" }, []string{"no Group"}},
		{"no topics", func(c *inbox.Config) { c.Topics = nil }, []string{"no Topics"}},
		{"empty topic", func(c *inbox.Config) { c.Topics = []string{""} }, []string{"empty topic name"}},
		{"no brokers", func(c *inbox.Config) { c.Brokers = nil }, []string{"no Brokers"}},
		{"all three", func(c *inbox.Config) { *c = inbox.Config{} }, []string{"no Group", "no Topics", "no Brokers"}},
		{"negative", func(c *inbox.Config) { c.MaxAttempts, c.Retention = -1, -time.Hour },
			[]string{"MaxAttempts is negative", "Retention is negative"}},
		{"backoffs", func(c *inbox.Config) { c.Backoff, c.MaxBackoff = time.Minute, time.Second }, []string{"MaxBackoff 1s is under Backoff 1m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := inbox.NewConsumer(store, nop, &cfg)
			if !errors.Is(err, outbox.ErrInvalidConfig) {
				t.Fatalf("err %v, want outbox.ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := inbox.NewConsumer(store, nil, &ok); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("nil handler: %v", err)
	}
	if _, err := inbox.NewConsumer[pgx.Tx](nil, nop, &ok); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("nil store: %v", err)
	}
	if _, err := inbox.NewStore[pgx.Tx](nil, nil); !errors.Is(err, outbox.ErrNoDB) {
		t.Errorf("nil driver: %v", err)
	}
	if _, err := inbox.NewStore(outboxpgx.New(pool), &inbox.StoreConfig{Table: "Bad-Name"}); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("bad table name: %v", err)
	}
}

// TestRunErrors: Run fails at once, and says why, on a topic that does not exist and
// on brokers it cannot reach; a second Run of one consumer is refused.
func TestRunErrors(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	testenv.Client(t)
	store := must(inbox.NewStore(outboxpgx.New(pool), nil))
	cfg := &inbox.Config{Group: testenv.Name("g"), Topics: []string{testenv.Name("missing")}, Brokers: testenv.Brokers()}
	c := must(inbox.NewConsumer(store, nop, cfg))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx); !errors.Is(err, inbox.ErrUnknownTopic) || !strings.Contains(err.Error(), cfg.Topics[0]) {
		t.Errorf("missing topic: %v", err)
	}
	if err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "Run called twice") {
		t.Errorf("second Run: %v", err)
	}
	cfg = &inbox.Config{Group: "g", Topics: []string{"t"}, Brokers: []string{testenv.FreeAddr(t)}}
	c = must(inbox.NewConsumer(store, nop, cfg))
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	began := time.Now()
	if err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "cannot reach the brokers") {
		t.Errorf("unreachable broker: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("unreachable broker: Run took %s", d)
	}
}
