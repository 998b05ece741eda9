package outboxsql_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver is the application's choice; tests use pgx's

	"github.com/firstunicorn/outbox/internal/testenv"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/outboxtest"
)

// inTx runs fn in a transaction of db, committing when it returns nil.
func inTx(db *sql.DB) func(context.Context, func(*sql.Tx) error) error {
	return func(ctx context.Context, fn func(*sql.Tx) error) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
}

func newStore(t testing.TB, db *sql.DB, database outboxstore.Database, cfg *outboxstore.Config) *outboxstore.Store[*sql.Tx] {
	t.Helper()
	s, err := outboxstore.New(outboxsql.New(db, database), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformancePostgreSQL(t *testing.T) {
	pool := testenv.Pool(t)
	db, err := sql.Open("pgx", testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	outboxtest.Run(t, outboxtest.Harness[*sql.Tx]{
		New: func(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[*sql.Tx] {
			c := *cfg
			c.Schema = testenv.Schema(t, pool)
			return newStore(t, db, outboxstore.PostgreSQL, &c)
		},
		InTx:     inTx(db),
		InFlight: true,
	})
}
