package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/relay/source"
)

// Databases are the databases the store runs on, as the tests name them.
var Databases = []string{"postgres", "mariadb", "sqlite"}

// Store is an outboxstore.Store, whichever its driver: what a relay publishes from, and
// the operator's side.
type Store interface {
	relay.Source
	Admin() *outboxstore.Admin
}

// Outbox is one test's fresh, migrated outbox on one of the Databases.
type Outbox struct {
	DB    string
	Store Store
	// URL and Schema are the outbox's database as the outbox command takes them.
	URL, Schema string
	// Write commits msgs in one transaction, as an application would.
	Write func(ctx context.Context, msgs ...outbox.Message) error
	// Rollback writes msgs in a transaction and rolls it back.
	Rollback func(ctx context.Context, msgs ...outbox.Message) error
	// Hold begins a transaction, writes msgs in it and leaves it open: commit ends it.
	Hold func(ctx context.Context, msgs ...outbox.Message) (commit func() error, err error)
	// Exec runs SQL written for DB on the outbox's database.
	Exec func(ctx context.Context, sql string, args ...any) error
	// Killable returns another store over the same outbox, on connections of its own,
	// and kill, which ends all of them at once (batches open on them included) and
	// returns how many it ended.
	Killable func(t testing.TB) (store Store, kill func() int)
	// SQL returns another store over the same outbox through database/sql.
	SQL func(t testing.TB) Store
}

// NewOutbox creates a migrated outbox with limits lim on db, removed when the test ends.
func NewOutbox(t testing.TB, db string, lim outbox.Limits) *Outbox {
	t.Helper()
	return newOutbox(t, db, &outboxstore.Config{Limits: lim})
}

func newOutbox(t testing.TB, db string, cfg *outboxstore.Config) *Outbox {
	t.Helper()
	var (
		url string
		o   *Outbox
	)
	switch db {
	case "postgres":
		pool := Pool(t)
		url, cfg.Schema = DatabaseURL(), Schema(t, pool)
		o = pgOutbox(t, pool, cfg)
	case "mariadb":
		url, cfg.Schema = MariaDBURL(), MariaDBDatabase(t)
		o = sqlOutbox(t, MariaDB(t), outboxstore.MySQL, cfg)
	case "sqlite":
		url = SQLiteURL(t)
		o = sqlOutbox(t, SQLite(t, url), outboxstore.SQLite, cfg)
	default:
		t.Fatalf("unknown test database %q", db)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := o.Store.Admin().Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", db, err)
	}
	o.DB, o.URL, o.Schema = db, url, cfg.Schema
	switch db {
	case "postgres":
		o.Killable = func(t testing.TB) (Store, func() int) { return killablePG(t, cfg) }
		o.SQL = func(t testing.TB) Store { return sqlPG(t, cfg) }
	case "mariadb":
		o.Killable = func(t testing.TB) (Store, func() int) { return killableMariaDB(t, cfg) }
	}
	return o
}

// pgOutbox is an outbox over pool through outboxpgx.
func pgOutbox(t testing.TB, pool *pgxpool.Pool, cfg *outboxstore.Config) *Outbox {
	s, err := outboxstore.New(outboxpgx.New(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	inTx := func(ctx context.Context, fn func(pgx.Tx) error) error { return pgx.BeginFunc(ctx, pool, fn) }
	o := newWriters(s, inTx)
	o.Exec = func(ctx context.Context, sql string, args ...any) error {
		_, err := pool.Exec(ctx, sql, args...)
		return err
	}
	return o
}

// sqlOutbox is an outbox over db through outboxsql.
func sqlOutbox(t testing.TB, db *sql.DB, database outboxstore.Database, cfg *outboxstore.Config) *Outbox {
	s, err := outboxstore.New(outboxsql.New(db, database), cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := newWriters(s, InSQLTx(db))
	o.Exec = func(ctx context.Context, query string, args ...any) error {
		_, err := db.ExecContext(ctx, query, args...)
		return err
	}
	return o
}

// InSQLTx returns a function that runs fn in a transaction of db and commits it when fn
// returns nil; otherwise it rolls back and returns fn's error.
func InSQLTx(db *sql.DB) func(ctx context.Context, fn func(*sql.Tx) error) error {
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

// newWriters is an Outbox of s whose writes run in transactions of inTx.
func newWriters[TTx any](s *outboxstore.Store[TTx], inTx func(context.Context, func(TTx) error) error) *Outbox {
	write := func(ctx context.Context, msgs []outbox.Message, then func() error) error {
		return inTx(ctx, func(tx TTx) error {
			if err := s.Write(ctx, tx, msgs...); err != nil {
				return err
			}
			return then()
		})
	}
	commit := func() error { return nil }
	return &Outbox{Store: s,
		Write: func(ctx context.Context, msgs ...outbox.Message) error { return write(ctx, msgs, commit) },
		Rollback: func(ctx context.Context, msgs ...outbox.Message) error {
			if err := write(ctx, msgs, func() error { return errRollback }); !errors.Is(err, errRollback) {
				return err
			}
			return nil
		},
		Hold: func(ctx context.Context, msgs ...outbox.Message) (func() error, error) {
			return hold(func(wrote func()) error {
				return write(ctx, msgs, func() error { wrote(); return nil })
			})
		},
	}
}

var errRollback = errors.New("rolled back by the test")

// hold runs write, which calls wrote once its events are written and returns when its
// transaction ends, and keeps that transaction open until commit is called.
func hold(write func(wrote func()) error) (commit func() error, err error) {
	wrote, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- write(func() {
			close(wrote)
			<-release
		})
	}()
	select {
	case err := <-done: // the write failed before its events were in
		return nil, err
	case <-wrote:
	}
	return func() error { close(release); return <-done }, nil
}

// URL is a database URL for db that the outbox command takes, after checking that the
// database answers: the test database itself (PostgreSQL, MariaDB), or a file in the
// test's temporary directory (SQLite).
func URL(t testing.TB, db string) string {
	t.Helper()
	switch db {
	case "postgres":
		Pool(t)
		return DatabaseURL()
	case "mariadb":
		MariaDB(t)
		return MariaDBURL()
	case "sqlite":
		return SQLiteURL(t)
	}
	t.Fatalf("unknown test database %q", db)
	return ""
}

// EachDB runs test on every database of Databases but those in without, each as a
// parallel subtest, with the calling test parallel too.
func EachDB(t *testing.T, test func(t *testing.T, db string), without ...string) {
	t.Parallel()
	for _, db := range Databases {
		if slices.Contains(without, db) {
			continue
		}
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			test(t, db)
		})
	}
}

// BuildOutbox builds the outbox command into a temporary directory, for tests that run
// it as processes; cleanup removes it.
func BuildOutbox() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "outbox-bin-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "outbox")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/firstunicorn/outbox/cmd/outbox").CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build outbox: %v\n%s", err, out)
	}
	return bin, func() { _ = os.RemoveAll(dir) }, nil
}

// Table is store's outbox table as a relay in table mode works it.
func Table(t testing.TB, store relay.Source) source.Store {
	t.Helper()
	o, err := store.RelaySource()
	if err != nil || o.Table == nil {
		t.Fatalf("the store gave the relay no table: %v", err)
	}
	return o.Table
}
