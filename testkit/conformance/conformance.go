// Package conformance is the conformance suite of the outbox store. Every driver and
// database of this module runs Run against a real database; RunRelayStore runs the
// relay's part (claims, settling, leases) alone against any source.Store.
//
// The suite is split by area, one file each: claims (claim.go), settling batches
// (settle.go), leases and heartbeats (leases.go), writes (write.go), migrations
// (migrate.go), operator commands (admin.go) and notifications (notify.go).
//
// It is part of this module's test kit (testkit/), which its own tests, benchmark and
// fault-injection suite share: not an API, and it changes with them.
package conformance

import (
	"context"
	"fmt"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Harness sets up the database under test.
type Harness[TTx any] struct {
	// New returns a store over a fresh outbox of its own, not yet migrated, with cfg's
	// Limits and Mode. The harness picks Schema and Table, and writes them into cfg.
	New func(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[TTx]
	// InTx runs fn in a transaction of the store's database and commits it when fn
	// returns nil; otherwise it rolls back and returns fn's error.
	InTx func(ctx context.Context, fn func(tx TTx) error) error
	// InFlight says that the database reports the events of open batches as in flight
	// (PostgreSQL); elsewhere they are counted as pending.
	InFlight bool
	// Listens says that the store wakes idle relays by notification (PostgreSQL over
	// pgx); elsewhere Listen must return no listener, and relays poll.
	Listens bool
	// OneWriter says that the database has one writer at a time (SQLite): a batch's
	// settlement waits for a writer's open transaction instead of passing it.
	OneWriter bool
	// ConnString, on PostgreSQL, is the database URL for WAL mode's replication
	// connection; the WAL area runs only when it is set.
	ConnString string
	// Exec runs a statement on the database, outside the store: what a test does by
	// hand (an old row, WAL mode's slots dropped).
	Exec func(ctx context.Context, sql string, args ...any) error
}

// Run runs every area of the suite.
func Run[TTx any](t *testing.T, h Harness[TTx]) {
	RunRelayStore(t, func(t *testing.T) (source.Store, WriteFunc) {
		s := h.migrated(t, &outboxstore.Config{})
		return testenv.Table(t, s), h.writer(s)
	})
	run(t, writeTests[TTx](), h)
	run(t, migrateTests[TTx](), h)
	run(t, adminTests[TTx](), h)
	run(t, notifyTests[TTx](), h)
	if h.ConnString != "" {
		run(t, walTests[TTx](), h)
	}
}

type test[T any] struct {
	name string
	fn   func(*testing.T, T)
}

func run[T any](t *testing.T, tests []test[T], arg T) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, arg)
		})
	}
}

// WriteFunc commits msgs to the store's outbox, as an application's transaction would.
type WriteFunc func(ctx context.Context, msgs ...outbox.Message) error

// RunRelayStore runs the relay's part of the suite (claims, settling, leases) against
// stores that newStore returns: each over a fresh, migrated, empty outbox, with a way
// to write to it.
func RunRelayStore(t *testing.T, newStore func(t *testing.T) (source.Store, WriteFunc)) {
	for _, area := range [][]test[relayEnv]{claimTests, settleTests, leaseTests} {
		for _, tt := range area {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s, w := newStore(t)
				tt.fn(t, relayEnv{s, w})
			})
		}
	}
}

// relayEnv is one relay-area test's store and writer.
type relayEnv struct {
	s     source.Store
	write WriteFunc
}

func (h Harness[TTx]) migrated(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[TTx] {
	t.Helper()
	s := h.New(t, cfg)
	if _, err := s.Admin().Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func (h Harness[TTx]) writer(s *outboxstore.Store[TTx]) WriteFunc {
	return func(ctx context.Context, msgs ...outbox.Message) error {
		return h.InTx(ctx, func(tx TTx) error { return s.Write(ctx, tx, msgs...) })
	}
}

func msgs(n int, key func(i int) string) []outbox.Message {
	out := make([]outbox.Message, n)
	for i := range out {
		out[i] = outbox.Message{Topic: "conformance", Type: "test", Payload: []byte(fmt.Sprint(i))}
		if k := key(i); k != "" {
			out[i].Key = []byte(k)
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
