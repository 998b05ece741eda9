package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Migrate switches the file to write-ahead logging (readers then never wait for the
// writer) and brings the schema to the latest version in one IMMEDIATE transaction,
// which serialises concurrent migrators.
func (d *Dialect) Migrate(ctx context.Context, db sqldb.DB) ([]int, error) {
	return migrateDir(ctx, db, "migrations", d.Names().Vars)
}

// busyRetry bounds how long migrateDir retries a migration that met SQLITE_BUSY.
const busyRetry = 10 * time.Second

// migrateDir applies dir's migrations for the tables vars name. Switching a fresh file
// to WAL takes an exclusive lock without waiting in the busy handler, so connections
// that open the file at the same moment (a pool, each with journal_mode(WAL) in its
// DSN) can fail at once with SQLITE_BUSY: seen in the conformance suite under -race, in
// at least 3 of 30 runs (0 of 30 with this retry). The migration is one transaction and
// idempotent, so it is tried again, for up to busyRetry.
func migrateDir(ctx context.Context, db sqldb.DB, dir string, vars sqldb.Vars) ([]int, error) {
	ms, err := sqldb.LoadMigrations(files, dir, vars)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(busyRetry)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		applied, err := migrateOnce(ctx, db, vars, ms)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().Add(wait).After(deadline) {
			return applied, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

func migrateOnce(ctx context.Context, db sqldb.DB, vars sqldb.Vars, ms []sqldb.Migration) ([]int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := prerequisites(ctx, conn); err != nil {
		return nil, err
	}
	var mode string
	if err := sqldb.ScanRow(ctx, conn, `PRAGMA journal_mode = WAL`, nil, &mode); err != nil {
		return nil, fmt.Errorf("set journal_mode: %w", err)
	}
	if _, err := conn.Exec(ctx, `BEGIN IMMEDIATE`); err != nil {
		return nil, notWritable(err)
	}
	applied, err := migrate(ctx, conn, vars["migrations"], ms)
	if err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		return nil, err
	}
	if _, err := conn.Exec(ctx, `COMMIT`); err != nil {
		return nil, err
	}
	return applied, nil
}

func migrate(ctx context.Context, q sqldb.Querier, table string, ms []sqldb.Migration) ([]int, error) {
	if _, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (`+now+`))`); err != nil {
		return nil, err
	}
	done, err := sqldb.AppliedVersions(ctx, q, table)
	if err != nil {
		return nil, err
	}
	return sqldb.Apply(ctx, q, table, ms, done, nil)
}

// Check refuses what would make concurrent writers fail: a connection without a busy
// timeout, a file it cannot write, a database not in WAL mode (Migrate sets it).
func (d *Dialect) Check(ctx context.Context, db sqldb.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := prerequisites(ctx, conn); err != nil {
		return err
	}
	var mode string
	if err := sqldb.ScanRow(ctx, conn, `PRAGMA journal_mode`, nil, &mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("%w: SQLite's journal_mode is %s: run Migrate (outbox migrate), which sets WAL, "+
			"or open the database with _pragma=journal_mode(WAL)", sqldb.ErrUnsupported, mode)
	}
	return nil
}

// prerequisites are a busy timeout and a writable file.
func prerequisites(ctx context.Context, conn sqldb.Conn) error {
	var timeout int64
	if err := sqldb.ScanRow(ctx, conn, `PRAGMA busy_timeout`, nil, &timeout); err != nil {
		return err
	}
	if timeout <= 0 {
		return fmt.Errorf("%w: SQLite's busy_timeout is 0, so a write that meets another fails at once with "+
			"SQLITE_BUSY: open the database with _pragma=busy_timeout(10000) in its DSN", sqldb.ErrUnsupported)
	}
	if _, err := conn.Exec(ctx, `BEGIN IMMEDIATE`); err != nil {
		return notWritable(err)
	}
	_, err := conn.Exec(ctx, `ROLLBACK`)
	return err
}

func notWritable(err error) error {
	if strings.Contains(err.Error(), "readonly") || strings.Contains(err.Error(), "read-only") {
		return errors.Join(fmt.Errorf("%w: the SQLite database is not writable: give this process write access "+
			"to the file and its directory (SQLite writes -wal and -shm files beside it)", sqldb.ErrUnsupported), err)
	}
	return err
}
