package testenv

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql over PostgreSQL

	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
)

// killablePG is a store on a pool of its own whose backends kill terminates.
func killablePG(t testing.TB, cfg *outboxstore.Config) (Store, func() int) {
	admin := Pool(t)
	pcfg, err := pgxpool.ParseConfig(DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		pids []int64
	)
	pcfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		mu.Lock()
		pids = append(pids, int64(c.PgConn().PID()))
		mu.Unlock()
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	kill := func() int {
		mu.Lock()
		list := append([]int64(nil), pids...)
		mu.Unlock()
		var n int
		_ = admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE pid = ANY($1::int[])`, list).Scan(&n)
		return n
	}
	s, err := outboxstore.New(outboxpgx.New(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, kill
}

// sqlPG is a store over the outbox through database/sql and pgx's stdlib driver.
func sqlPG(t testing.TB, cfg *outboxstore.Config) Store {
	db := OpenSQL(t, "pgx", DatabaseURL())
	s, err := outboxstore.New(outboxsql.New(db, outboxstore.PostgreSQL), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
