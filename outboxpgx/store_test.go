package outboxpgx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxtest"
	"github.com/firstunicorn/outbox/relay"
)

// newOutbox migrates a fresh outbox in its own schema and returns the pool, store and writer.
func newOutbox(t *testing.T) (*pgxpool.Pool, *outboxpgx.Store, *outboxpgx.Writer) {
	return newOutboxB(t)
}

func newOutboxB(t testing.TB) (*pgxpool.Pool, *outboxpgx.Store, *outboxpgx.Writer) {
	t.Helper()
	pool := testenv.Pool(t)
	cfg := &outboxpgx.Config{Schema: testenv.Schema(t, pool)}
	store, err := outboxpgx.NewStore(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	w, err := outboxpgx.NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pool, store, w
}

func TestStoreConformance(t *testing.T) {
	outboxtest.RunStoreTests(t, outboxtest.Harness{
		New: func(t *testing.T) (relay.Store, outboxtest.WriteFunc) {
			pool, store, w := newOutbox(t)
			return store, func(ctx context.Context, msgs ...outbox.Message) error {
				return w.Write(ctx, pool, msgs...)
			}
		},
	})
}
