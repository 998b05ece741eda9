package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dburl"
	"github.com/firstunicorn/outbox/outboxstore"
)

// Databases are the databases the store runs on, as the tests name them.
var Databases = []string{"postgres", "mariadb", "sqlite"}

// Store is an outboxstore.Store, whichever its driver.
type Store = dburl.Store

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
	var url string
	switch db {
	case "postgres":
		url, cfg.Schema = DatabaseURL(), Schema(t, Pool(t))
	case "mariadb":
		url, cfg.Schema = MariaDBURL(), MariaDBDatabase(t)
	case "sqlite":
		url = SQLiteURL(t)
	default:
		t.Fatalf("unknown test database %q", db)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := dburl.Open(ctx, url, cfg, dburl.Options{})
	if err != nil {
		Need(t, db, err)
	}
	t.Cleanup(d.Close)
	if _, err := d.Store.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", db, err)
	}
	o := &Outbox{DB: db, Store: d.Store, URL: url, Schema: cfg.Schema,
		Write: func(ctx context.Context, msgs ...outbox.Message) error {
			return d.InTx(ctx, func(tx dburl.Tx) error { return tx.Write(ctx, msgs...) })
		},
		Rollback: func(ctx context.Context, msgs ...outbox.Message) error {
			err := d.InTx(ctx, func(tx dburl.Tx) error {
				if err := tx.Write(ctx, msgs...); err != nil {
					return err
				}
				return errRollback
			})
			if errors.Is(err, errRollback) {
				return nil
			}
			return err
		},
		Hold: func(ctx context.Context, msgs ...outbox.Message) (func() error, error) { return hold(ctx, d, msgs) },
		Exec: d.Exec,
	}
	switch db {
	case "postgres":
		o.Killable = func(t testing.TB) (Store, func() int) { return killablePG(t, cfg) }
		o.SQL = func(t testing.TB) Store { return sqlPG(t, cfg) }
	case "mariadb":
		o.Killable = func(t testing.TB) (Store, func() int) { return killableMariaDB(t, cfg) }
	}
	return o
}

var errRollback = errors.New("rolled back by the test")

// hold writes msgs in a transaction it leaves open until commit is called.
func hold(ctx context.Context, d *dburl.Outbox, msgs []outbox.Message) (commit func() error, err error) {
	wrote, release, done := make(chan error, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx dburl.Tx) error {
			err := tx.Write(ctx, msgs...)
			wrote <- err
			if err == nil {
				<-release
			}
			return err
		})
	}()
	if err := <-wrote; err != nil {
		<-done
		return nil, err
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

// SQLiteURL is a new SQLite database file in the test's temporary directory.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "outbox.db")
}
