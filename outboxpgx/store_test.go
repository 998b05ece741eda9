package outboxpgx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/conformance"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// newStore returns a store over an outbox in a schema of its own, not migrated.
func newStore(t testing.TB, pool *pgxpool.Pool, cfg *outboxstore.Config) *outboxstore.Store[pgx.Tx] {
	t.Helper()
	cfg.Schema = testenv.Schema(t, pool)
	s, err := outboxstore.New(outboxpgx.New(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newOutbox returns a store over a fresh, migrated outbox.
func newOutbox(t testing.TB) (*pgxpool.Pool, *outboxstore.Store[pgx.Tx]) {
	t.Helper()
	pool := testenv.Pool(t)
	s := newStore(t, pool, &outboxstore.Config{})
	if _, err := s.Admin().Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return pool, s
}

func TestConformance(t *testing.T) {
	pool := testenv.Pool(t)
	conformance.Run(t, conformance.Harness[pgx.Tx]{
		New: func(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[pgx.Tx] { return newStore(t, pool, cfg) },
		InTx: func(ctx context.Context, fn func(pgx.Tx) error) error {
			return pgx.BeginFunc(ctx, pool, fn)
		},
		InFlight:   true,
		Listens:    true,
		ConnString: testenv.DatabaseURL(),
		Exec: func(ctx context.Context, sql string, args ...any) error {
			_, err := pool.Exec(ctx, sql, args...)
			return err
		},
	})
}
