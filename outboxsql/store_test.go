package outboxsql_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver is the application's choice; tests use pgx's

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxtest"
	"github.com/firstunicorn/outbox/relay"
)

// newOutbox migrates a fresh outbox in its own schema and returns the db, store and writer.
func newOutbox(t *testing.T) (*sql.DB, *outboxsql.Store, *outboxsql.Writer) {
	t.Helper()
	schema := testenv.Schema(t, testenv.Pool(t))
	db, err := sql.Open("pgx", testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cfg := &outboxsql.Config{Schema: schema}
	store, err := outboxsql.NewStore(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	w, err := outboxsql.NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db, store, w
}

func TestStoreConformance(t *testing.T) {
	outboxtest.RunStoreTests(t, outboxtest.Harness{
		New: func(t *testing.T) (relay.Store, outboxtest.WriteFunc) {
			db, store, w := newOutbox(t)
			return store, func(ctx context.Context, msgs ...outbox.Message) error {
				return w.Write(ctx, db, msgs...)
			}
		},
	})
}
