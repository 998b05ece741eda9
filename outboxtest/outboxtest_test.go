package outboxtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/outboxtest"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// recorder is a TB that records failures instead of ending the test.
type recorder struct{ failures []string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// The assertions on each driver and database: what the test's transaction wrote,
// seen before it commits.
func TestAssertions(t *testing.T) {
	t.Parallel()
	t.Run("pgx", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Pool(t)
		s := newStore(t, outboxpgx.New(pool), &outboxstore.Config{Schema: testenv.Schema(t, pool)})
		check(t, s, func(ctx context.Context, fn func(pgx.Tx) error) error { return pgx.BeginFunc(ctx, pool, fn) })
	})
	for _, db := range []string{"postgres", "mariadb", "sqlite"} {
		t.Run(db+"_sql", func(t *testing.T) {
			t.Parallel()
			var (
				conn     *sql.DB
				database outboxstore.Database
				cfg      outboxstore.Config
			)
			switch db {
			case "postgres":
				conn, database, cfg.Schema = testenv.OpenSQL(t, "pgx", testenv.DatabaseURL()), outboxstore.PostgreSQL, testenv.Schema(t, testenv.Pool(t))
			case "mariadb":
				conn, database, cfg.Schema = testenv.MariaDB(t), outboxstore.MySQL, testenv.MariaDBDatabase(t)
			case "sqlite":
				conn, database = testenv.SQLite(t, testenv.SQLiteURL(t)), outboxstore.SQLite
			}
			s := newStore(t, outboxsql.New(conn, database), &cfg)
			check(t, s, testenv.InSQLTx(conn))
		})
	}
}

func check[TTx any](t *testing.T, s *outboxstore.Store[TTx], inTx func(context.Context, func(TTx) error) error) {
	ctx := context.Background()
	placed := outbox.Message{Topic: "orders", Type: "order.placed", Key: []byte("order-42"), AggregateType: "order",
		AggregateID: "42", Payload: []byte(`{"order_id":42,"total":1999}`), Headers: map[string]string{"tenant": "acme"}}
	shipped := outbox.Message{Topic: "orders", Type: "order.shipped", Key: []byte("order-42"), Payload: []byte("not json")}
	err := inTx(ctx, func(tx TTx) error {
		outboxtest.RequireNotWrittenTx(ctx, t, s, tx, outboxtest.Want{Topic: "orders"})
		if err := s.Write(ctx, tx, placed, shipped); err != nil {
			return err
		}
		got := outboxtest.RequireWrittenTx(ctx, t, s, tx, outboxtest.Want{Type: "order.placed", Key: []byte("order-42"),
			Payload: []byte(`{ "total": 1999, "order_id": 42 }`), Headers: map[string]string{"tenant": "acme"}, AggregateID: "42"})
		if got.ID.Version() != 7 || got.OccurredAt.IsZero() {
			t.Errorf("the event as written: %+v", got)
		}
		outboxtest.RequireManyWrittenTx(ctx, t, s, tx, outboxtest.Want{Type: "order.placed"}, outboxtest.Want{Payload: []byte("not json")})
		outboxtest.RequireNotWrittenTx(ctx, t, s, tx, outboxtest.Want{Topic: "payments"})

		// Each assertion fails, and says what it found, when the events differ.
		for _, tc := range []struct {
			name string
			call func(outboxtest.TB)
			want string
		}{
			{"no match", func(r outboxtest.TB) {
				outboxtest.RequireWrittenTx(ctx, r, s, tx, outboxtest.Want{Type: "order.cancelled"})
			},
				`0 events match {type "order.cancelled"}`},
			{"two matches", func(r outboxtest.TB) { outboxtest.RequireWrittenTx(ctx, r, s, tx, outboxtest.Want{Topic: "orders"}) },
				"2 events match"},
			{"payload", func(r outboxtest.TB) {
				outboxtest.RequireWrittenTx(ctx, r, s, tx, outboxtest.Want{Type: "order.placed", Payload: []byte(`{"order_id":41}`)})
			}, `order.shipped`},
			{"header", func(r outboxtest.TB) {
				outboxtest.RequireWrittenTx(ctx, r, s, tx, outboxtest.Want{Headers: map[string]string{"tenant": "other"}})
			}, "0 events match"},
			{"order", func(r outboxtest.TB) {
				outboxtest.RequireManyWrittenTx(ctx, r, s, tx, outboxtest.Want{Type: "order.shipped"}, outboxtest.Want{Type: "order.placed"})
			}, `event 0 is {topic "orders", type "order.placed"`},
			{"count", func(r outboxtest.TB) { outboxtest.RequireManyWrittenTx(ctx, r, s, tx, outboxtest.Want{}) }, "2 events written, want 1"},
			{"not", func(r outboxtest.TB) {
				outboxtest.RequireNotWrittenTx(ctx, r, s, tx, outboxtest.Want{Type: "order.shipped"})
			},
				`an event matches {type "order.shipped"}`},
		} {
			var r recorder
			tc.call(&r)
			if len(r.failures) != 1 || !strings.Contains(r.failures[0], tc.want) {
				t.Errorf("%s: failures %q, want one saying %q", tc.name, r.failures, tc.want)
			}
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	// The rolled-back transaction left nothing for the next one to see.
	if err := inTx(ctx, func(tx TTx) error {
		outboxtest.RequireNotWrittenTx(ctx, t, s, tx, outboxtest.Want{})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

var errRollback = errors.New("rolled back by the test")

func newStore[TTx any](t *testing.T, drv outboxstore.Driver[TTx], cfg *outboxstore.Config) *outboxstore.Store[TTx] {
	t.Helper()
	s, err := outboxstore.New(drv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin().Migrate(context.Background()); err != nil {
		testenv.Need(t, "the database", err)
	}
	return s
}

// WAL mode writes no rows: the assertions say so and what to do instead.
func TestWALModeRefused(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	s, err := outboxstore.New(outboxpgx.New(pool), &outboxstore.Config{Mode: outboxstore.WALMode})
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	_ = pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		outboxtest.RequireNotWrittenTx(context.Background(), &r, s, tx, outboxtest.Want{})
		return errRollback
	})
	if len(r.failures) != 1 || !strings.Contains(r.failures[0], "table-mode store") {
		t.Fatalf("failures %q, want one naming the table-mode store", r.failures)
	}
}
