package inbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func nop(context.Context, pgx.Tx, *inbox.Message) error { return nil }

// TestConfigErrors: NewConsumer refuses a bad config before it connects to anything,
// naming each problem and its fix.
func TestConfigErrors(t *testing.T) {
	// A pool connects lazily: nothing here talks to a database.
	pool := must(pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none"))
	defer pool.Close()
	store := must(inbox.New(outboxpgx.New(pool), nil))
	// A client connects lazily too.
	client := must(kgo.NewClient(kgo.SeedBrokers("localhost:9092")))
	defer client.Close()
	ok := inbox.ConsumerConfig{Group: "g", Topics: []string{"t"}}
	for _, tc := range []struct {
		name string
		edit func(c *inbox.ConsumerConfig)
		want []string
	}{
		{"no group", func(c *inbox.ConsumerConfig) { c.Group = "" }, []string{"no Group"}},
		{"no topics", func(c *inbox.ConsumerConfig) { c.Topics = nil }, []string{"no Topics"}},
		{"empty topic", func(c *inbox.ConsumerConfig) { c.Topics = []string{""} }, []string{"empty topic name"}},
		{"both", func(c *inbox.ConsumerConfig) { *c = inbox.ConsumerConfig{} }, []string{"no Group", "no Topics"}},
		{"negative", func(c *inbox.ConsumerConfig) { c.MaxAttempts, c.Retention = -1, -time.Hour },
			[]string{"MaxAttempts is negative", "Retention is negative"}},
		{"backoffs", func(c *inbox.ConsumerConfig) { c.Backoff, c.MaxBackoff = time.Minute, time.Second }, []string{"MaxBackoff 1s is under Backoff 1m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := inbox.NewConsumer(store, nop, client, &cfg)
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
	if _, err := inbox.NewConsumer(store, nil, client, &ok); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("nil handler: %v", err)
	}
	if _, err := inbox.NewConsumer[pgx.Tx](nil, nop, client, &ok); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("nil store: %v", err)
	}
	if _, err := inbox.New[pgx.Tx](nil, nil); !errors.Is(err, outbox.ErrNoDB) {
		t.Errorf("nil driver: %v", err)
	}
	if _, err := inbox.New(outboxpgx.New(pool), &inbox.Config{Table: "Bad-Name"}); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("bad table name: %v", err)
	}
}

// TestRunErrors: Run fails at once, and says why, on a topic that does not exist and
// on brokers it cannot reach; a second Run of one consumer is refused.
func TestRunErrors(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	testenv.Client(t)
	store := must(inbox.New(outboxpgx.New(pool), nil))
	cfg := &inbox.ConsumerConfig{Group: testenv.Name("g"), Topics: []string{testenv.Name("missing")}}
	c := must(inbox.NewConsumer(store, nop, testenv.Client(t), cfg))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx); !errors.Is(err, inbox.ErrUnknownTopic) || !strings.Contains(err.Error(), cfg.Topics[0]) {
		t.Errorf("missing topic: %v", err)
	}
	if err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "Run called twice") {
		t.Errorf("second Run: %v", err)
	}
	cfg = &inbox.ConsumerConfig{Group: "g", Topics: []string{"t"}}
	nowhere := must(kgo.NewClient(kgo.SeedBrokers(testenv.FreeAddr(t))))
	defer nowhere.Close()
	c = must(inbox.NewConsumer(store, nop, nowhere, cfg))
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

// TestClientOptionsRefused: NewConsumer refuses a client that sets the consumer group's
// options, which the inbox sets on its own client, and names each.
func TestClientOptionsRefused(t *testing.T) {
	pool := must(pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none"))
	defer pool.Close()
	store := must(inbox.New(outboxpgx.New(pool), nil))
	cfg := &inbox.ConsumerConfig{Group: "g", Topics: []string{"t"}}
	for _, tc := range []struct {
		opts []kgo.Opt
		want []string
	}{
		{[]kgo.Opt{kgo.ConsumerGroup("other"), kgo.ConsumeTopics("t")}, []string{"ConsumerGroup", "ConsumeTopics"}},
		{[]kgo.Opt{kgo.ConsumerGroup("other"), kgo.AutoCommitMarks(), kgo.BlockRebalanceOnPoll()},
			[]string{"ConsumerGroup", "AutoCommitMarks", "BlockRebalanceOnPoll"}},
		{[]kgo.Opt{kgo.ConsumerGroup("other"), kgo.DisableAutoCommit(), kgo.ConsumeTopics("t.*"), kgo.ConsumeRegex()},
			[]string{"DisableAutoCommit", "ConsumeRegex"}},
		{[]kgo.Opt{kgo.ConsumerGroup("other"), kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {})},
			[]string{"OnPartitionsRevoked"}},
		{[]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset()}})}, []string{"ConsumePartitions"}},
	} {
		cl := must(kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("localhost:9092")}, tc.opts...)...))
		_, err := inbox.NewConsumer(store, nop, cl, cfg)
		cl.Close()
		if !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Fatalf("%v: err %v, want outbox.ErrInvalidConfig", tc.want, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("err %q does not name %s", err, w)
			}
		}
	}
	if _, err := inbox.NewConsumer(store, nop, nil, cfg); !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), "*kgo.Client") {
		t.Errorf("nil client: %v", err)
	}
}

// TestAdminCheck: Check refuses an inbox whose tables are missing, naming the fix, and
// passes once Migrate made them.
func TestAdminCheck(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	a := must(inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: testenv.Schema(t, pool)})).Admin()
	ctx := context.Background()
	if err := a.Check(ctx); !errors.Is(err, inbox.ErrNotMigrated) || !strings.Contains(err.Error(), "outbox inbox migrate") {
		t.Fatalf("Check before Migrate: %v, want ErrNotMigrated naming the fix", err)
	}
	if _, err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(ctx); err != nil {
		t.Fatalf("Check after Migrate: %v", err)
	}
}
