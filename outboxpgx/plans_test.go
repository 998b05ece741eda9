package outboxpgx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// PostgreSQL plans a cached statement once for all its runs, after its first few. A
// relay that started on a small outbox must not keep a plan that scans the table or
// every index entry of its buckets: on a busy outbox those cost what the dead rows of
// the last minute of events cost (seen: 12 ms a claim instead of 0.5). The batch's
// statements are planned with sequential and bitmap scans off; the peek, outside a
// batch, is planned at each run.
func TestRelayPlansStayOnIndexes(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1 // every batch on the connection whose statements are inspected
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStore(t, pool, &outboxstore.Config{})
	if _, err := s.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	write := func() {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return s.Write(ctx, tx, outbox.Message{Topic: "t", Key: []byte("k"), Payload: []byte(`{}`)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write()
	if _, err := pool.Exec(ctx, "ANALYZE "+s.Admin().Table()); err != nil { // small, and known to be
		t.Fatal(err)
	}
	table := testenv.Table(t, s)
	all := make([]int, table.Buckets())
	for i := range all {
		all[i] = i
	}
	for range 12 { // past the runs after which PostgreSQL settles on a plan for all
		write()
		b, err := table.Claim(ctx, &source.ClaimParams{Buckets: all, Limit: 100, IdleTimeout: time.Minute})
		if err != nil || b == nil {
			t.Fatalf("claim: %v, %v", b, err)
		}
		var seqs []int64
		for _, r := range b.Records() {
			seqs = append(seqs, r.Seq)
		}
		if err := b.MarkPublished(ctx, seqs, false); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}

	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	rows, err := c.Query(ctx, `SELECT name, statement, generic_plans FROM pg_prepared_statements`)
	if err != nil {
		t.Fatal(err)
	}
	type stmt struct {
		Name, SQL string
		Generic   int64
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[stmt])
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, st := range stmts {
		switch {
		case strings.HasPrefix(st.SQL, "SELECT EXISTS"):
			t.Errorf("the peek is a cached statement: %s", st.SQL)
		case strings.HasPrefix(st.SQL, "DELETE FROM") && st.Generic > 0:
			checked++
			var plan []string
			rows, err := c.Query(ctx, "EXPLAIN EXECUTE "+st.Name+"('{1}')")
			if err == nil {
				plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan") || strings.Contains(p, "Bitmap") {
				t.Errorf("the settlement's plan for all runs scans the table:\n%s", p)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no settlement statement has a plan for all runs; statements: %v", stmts)
	}
}
