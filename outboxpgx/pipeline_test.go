package outboxpgx_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// trips counts what pgx sends: a query or a batch each, one round trip once their
// statements are prepared.
type trips struct{ n atomic.Int64 }

func (c *trips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *trips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *trips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *trips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *trips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func pipeDB(t *testing.T) (sqldb.DB, *pgxpool.Pool, *trips, string) {
	t.Helper()
	plain := testenv.Pool(t)
	schema := testenv.Schema(t, plain)
	if _, err := plain.Exec(context.Background(), "CREATE TABLE "+schema+".t (v int CHECK (v > 0))"); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	tr := &trips{}
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = 1 // a connection left broken would fail the next statement
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db, err := outboxpgx.New(pool).(sqldb.Driver[pgx.Tx]).DB()
	if err != nil {
		t.Fatal(err)
	}
	return db, plain, tr, schema + ".t"
}

func count(t *testing.T, pool *pgxpool.Pool, table string) (n int) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch's BEGIN and the statements it defers go with its next statement and its
// commit: begin, lock, claim in one round trip; delete, commit in another.
func TestPipeTxRoundTrips(t *testing.T) {
	ctx := context.Background()
	db, plain, tr, table := pipeDB(t)
	for round := range 2 { // the first round prepares the statements
		tr.n.Store(0)
		tx, err := db.Begin(ctx, sqldb.TxOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tx.(sqldb.Deferring).Defer("SELECT set_config('outbox.test', $1, true)", "1")
		var v string
		if err := sqldb.ScanRow(ctx, tx, "SELECT current_setting('outbox.test')", nil, &v); err != nil || v != "1" {
			t.Fatalf("the deferred statement ran before the query: %q, %v", v, err)
		}
		if _, err := sqldb.Deferred(tx).Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := tr.n.Load(); round == 1 && got != 2 {
			t.Errorf("round trips = %d, want 2", got)
		}
	}
	if n := count(t, plain, table); n != 2 {
		t.Errorf("rows committed = %d, want 2", n)
	}
}

func TestPipeTxEnds(t *testing.T) {
	ctx := context.Background()
	db, plain, _, table := pipeDB(t)
	insert := "INSERT INTO " + table + " VALUES ($1)"
	tests := []struct {
		name    string
		run     func(tx sqldb.Tx) error // then the transaction is committed
		wantErr bool
		rows    int
	}{
		{"nothing sent commits nothing", func(sqldb.Tx) error { return nil }, false, 0},
		{"a deferred statement commits", func(tx sqldb.Tx) error {
			tx.(sqldb.Deferring).Defer(insert, 1)
			return nil
		}, false, 1},
		{"a deferred failure fails the commit and rolls back", func(tx sqldb.Tx) error {
			if _, err := tx.Exec(ctx, insert, 1); err != nil {
				return err
			}
			tx.(sqldb.Deferring).Defer(insert, -1) // violates the check
			return nil
		}, true, 0},
		{"a failure fails the statement it went with", func(tx sqldb.Tx) error {
			tx.(sqldb.Deferring).Defer(insert, -1)
			_, err := tx.Query(ctx, "SELECT 1")
			if err == nil {
				return errors.New("the query after a failed statement succeeded")
			}
			return nil
		}, true, 0},
		{"a script of statements runs", func(tx sqldb.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES (1); INSERT INTO "+table+" VALUES (2)")
			return err
		}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := plain.Exec(ctx, "DELETE FROM "+table); err != nil {
				t.Fatal(err)
			}
			tx, err := db.Begin(ctx, sqldb.TxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.run(tx); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(ctx); (err != nil) != tt.wantErr {
				t.Fatalf("commit: %v, want an error: %v", err, tt.wantErr)
			}
			if err := tx.Rollback(ctx); !errors.Is(err, outbox.ErrTxDone) {
				t.Errorf("rollback after the end: %v, want ErrTxDone", err)
			}
			if n := count(t, plain, table); n != tt.rows {
				t.Errorf("rows = %d, want %d", n, tt.rows)
			}
			if _, err := db.Exec(ctx, "SELECT 1"); err != nil { // the pool's one connection is usable
				t.Fatalf("after the transaction: %v", err)
			}
		})
	}
}

func TestPipeTxRollback(t *testing.T) {
	ctx := context.Background()
	db, plain, _, table := pipeDB(t)
	tx, err := db.Begin(ctx, sqldb.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1); err != nil {
		t.Fatal(err)
	}
	tx.(sqldb.Deferring).Defer("INSERT INTO "+table+" VALUES ($1)", 2)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); !errors.Is(err, outbox.ErrTxDone) {
		t.Errorf("a statement after the end: %v, want ErrTxDone", err)
	}
	if n := count(t, plain, table); n != 0 {
		t.Errorf("rows = %d after a rollback, want 0", n)
	}
}
