package outboxsql_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the drivers are the application's choice
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/conformance"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func newStore(t testing.TB, db *sql.DB, database outboxstore.Database, cfg *outboxstore.Config) *outboxstore.Store[*sql.Tx] {
	t.Helper()
	s, err := outboxstore.New(outboxsql.New(db, database), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens a database/sql pool, closed when the test ends.
func TestConformancePostgreSQL(t *testing.T) {
	pool := testenv.Pool(t)
	db := testenv.OpenSQL(t, "pgx", testenv.DatabaseURL())
	conformance.Run(t, conformance.Harness[*sql.Tx]{
		New: func(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[*sql.Tx] {
			cfg.Schema = testenv.Schema(t, pool)
			return newStore(t, db, outboxstore.PostgreSQL, cfg)
		},
		InTx:       testenv.InSQLTx(db),
		InFlight:   true,
		ConnString: testenv.DatabaseURL(),
		Exec:       execSQL(db),
	})
}

// execSQL runs statements on db, for the suite's Exec.
func execSQL(db *sql.DB) func(ctx context.Context, sql string, args ...any) error {
	return func(ctx context.Context, query string, args ...any) error {
		_, err := db.ExecContext(ctx, query, args...)
		return err
	}
}

// sqliteDSN is how an application should open SQLite for the outbox: writers wait for
// each other, and transactions take the write lock when they begin.
const sqliteDSN = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// All the tests share one file, each with tables of its own: outboxes side by side,
// and writers of many tests meeting at SQLite's one write lock.
func TestConformanceSQLite(t *testing.T) {
	db := testenv.OpenSQL(t, "sqlite", filepath.Join(t.TempDir(), "outbox.db")+sqliteDSN)
	conformance.Run(t, conformance.Harness[*sql.Tx]{
		New: func(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[*sql.Tx] {
			cfg.Table = testenv.Name("t")
			return newStore(t, db, outboxstore.SQLite, cfg)
		},
		InTx:      testenv.InSQLTx(db),
		OneWriter: true,
		Exec:      execSQL(db),
	})
}

func TestConformanceMariaDB(t *testing.T) {
	db := testenv.MariaDB(t)
	conformance.Run(t, conformance.Harness[*sql.Tx]{
		New: func(t *testing.T, cfg *outboxstore.Config) *outboxstore.Store[*sql.Tx] {
			cfg.Schema = testenv.MariaDBDatabase(t)
			return newStore(t, db, outboxstore.MySQL, cfg)
		},
		InTx: testenv.InSQLTx(db),
		Exec: execSQL(db),
	})
}

// A SQLite pool without a busy timeout would fail concurrent writes at once: Migrate
// and Check refuse it and name the DSN parameter that fixes it.
func TestSQLiteWithoutBusyTimeout(t *testing.T) {
	t.Parallel()
	db := testenv.OpenSQL(t, "sqlite", filepath.Join(t.TempDir(), "outbox.db"))
	s := newStore(t, db, outboxstore.SQLite, &outboxstore.Config{})
	ctx := context.Background()
	if _, err := s.Admin().Migrate(ctx); err == nil || !strings.Contains(err.Error(), "_pragma=busy_timeout(10000)") {
		t.Fatalf("Migrate: %v; want the busy_timeout fix", err)
	}
	if err := s.Admin().Check(ctx); err == nil || !strings.Contains(err.Error(), "busy_timeout") {
		t.Fatalf("Check: %v", err)
	}
}

// On SQLite a claim holds its buckets with a write, which waits for the one write lock
// and syncs: while the only pending events belong to a key waiting for its retry, a
// claim finds nothing and writes nothing.
func TestSQLiteIdleClaimWritesNothing(t *testing.T) {
	t.Parallel()
	db := testenv.OpenSQL(t, "sqlite", filepath.Join(t.TempDir(), "outbox.db")+sqliteDSN)
	s := newStore(t, db, outboxstore.SQLite, &outboxstore.Config{})
	ctx := context.Background()
	if _, err := s.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := []outbox.Message{{Topic: "t", Key: []byte("k")}, {Topic: "t", Key: []byte("k")}}
	if err := testenv.InSQLTx(db)(ctx, func(tx *sql.Tx) error { return s.Write(ctx, tx, msgs...) }); err != nil {
		t.Fatal(err)
	}
	o, err := s.RelaySource()
	if err != nil {
		t.Fatal(err)
	}
	table := o.Table
	all := make([]int, table.Buckets())
	for i := range all {
		all[i] = i
	}
	b, err := table.Claim(ctx, &source.ClaimParams{Buckets: all, Limit: 1})
	if err != nil || b == nil {
		t.Fatalf("claim: %v, %v", b, err)
	}
	if _, err := b.MarkFailed(ctx, &source.FailParams{Seqs: []int64{b.Records()[0].Seq}, Error: "broker down",
		MaxAttempts: 5, Backoff: time.Minute, MaxBackoff: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	watch, err := db.Conn(ctx) // data_version moves when another connection commits
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	version := func() (v int64) {
		if err := watch.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	for range 3 {
		if b, err := table.Claim(ctx, &source.ClaimParams{Buckets: all, Limit: 10}); err != nil || b != nil {
			t.Fatalf("claim behind a waiting key: %v, %v", b, err)
		}
	}
	if after := version(); after != before {
		t.Fatalf("three claims that found nothing committed writes (data_version %d -> %d)", before, after)
	}
}

// WAL mode rests on PostgreSQL's logical decoding: elsewhere New refuses it, and a
// mode it does not know, by name; the slot settings need WAL mode. Nothing connects.
func TestModeChecked(t *testing.T) {
	t.Parallel()
	db := testenv.OpenSQL(t, "sqlite", filepath.Join(t.TempDir(), "outbox.db"))
	for _, tc := range []struct {
		database outboxstore.Database
		cfg      outboxstore.Config
		want     string
	}{
		{outboxstore.SQLite, outboxstore.Config{Mode: outboxstore.WALMode}, "WAL mode needs PostgreSQL"},
		{outboxstore.MySQL, outboxstore.Config{Mode: outboxstore.WALMode}, "WAL mode needs PostgreSQL"},
		{outboxstore.PostgreSQL, outboxstore.Config{Mode: "log"}, `unknown Mode "log"`},
		{outboxstore.PostgreSQL, outboxstore.Config{Slot: "s"}, "Slot and Publication are for WAL mode"},
		{outboxstore.PostgreSQL, outboxstore.Config{Mode: outboxstore.WALMode, Slot: "Bad-Name"}, `Slot "Bad-Name"`},
	} {
		_, err := outboxstore.New(outboxsql.New(db, tc.database), &tc.cfg)
		if !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: %v, want ErrInvalidConfig saying %q", tc.database, tc.cfg, err, tc.want)
		}
	}
}

// WAL mode's relay reads the slot through pgx's replication protocol: a store over
// database/sql writes in WAL mode, but refuses to be a relay's source, and says to use
// outboxpgx. Nothing connects.
func TestWALRelayNeedsPgx(t *testing.T) {
	t.Parallel()
	db := testenv.OpenSQL(t, "pgx", testenv.DatabaseURL())
	s, err := outboxstore.New(outboxsql.New(db, outboxstore.PostgreSQL), &outboxstore.Config{Mode: outboxstore.WALMode})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RelaySource(); !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), "outboxpgx.New(pool)") {
		t.Fatalf("RelaySource: %v, want ErrInvalidConfig naming outboxpgx.New(pool)", err)
	}
}

// MySQL commits DDL as it goes, so a migrator that died between migration 002's ALTER
// and recording it runs 002 again: the column is added only when it is missing, and the
// second run succeeds.
func TestMySQLDeadAtMigrationReruns(t *testing.T) {
	t.Parallel()
	db := testenv.MariaDB(t)
	schema := testenv.MariaDBDatabase(t)
	s := newStore(t, db, outboxstore.MySQL, &outboxstore.Config{Schema: schema})
	ctx := context.Background()
	if _, err := s.Admin().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM "+schema+".outbox_migrations WHERE version = 2"); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Admin().Migrate(ctx)
	if err != nil || len(applied) != 1 || applied[0] != 2 {
		t.Fatalf("migrate again with 002 unrecorded: %v, %v; want [2] applied", applied, err)
	}
	if _, err := s.Admin().Dead(ctx, 1); err != nil {
		t.Fatal(err)
	}
}
