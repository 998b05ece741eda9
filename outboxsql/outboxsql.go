// Package outboxsql runs the outbox store through database/sql: pass New(db, database)
// to outboxstore.New, and Write takes the *sql.Tx of your domain change. It imports no
// driver; the application picks one:
//
//   - PostgreSQL: github.com/jackc/pgx/v5/stdlib ("pgx") or github.com/lib/pq.
//   - MySQL 8 and MariaDB 10.6+: github.com/go-sql-driver/mysql, with
//     interpolateParams=true in the DSN (one round trip per statement instead of two).
//   - SQLite: modernc.org/sqlite, with _pragma=busy_timeout(10000) in the DSN and,
//     for the application's own transactions, _txlock=immediate.
//
// database/sql cannot wait for notifications, so a relay over it finds new messages by
// polling; with PostgreSQL, outboxpgx wakes an idle relay within milliseconds instead.
package outboxsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxstore"
)

// driver is the outbox's and inbox's way into a *sql.DB. Its methods are the stores'
// (sqldb.Driver), so the type stays unexported.
type driver struct {
	db       *sql.DB
	database outboxstore.Database
}

var _ sqldb.Driver[*sql.Tx] = (*driver)(nil)

// New returns the driver for db, a pool of connections to database, for
// outboxstore.New and inbox.New. The caller keeps db and closes it after the
// stores' last use.
func New(db *sql.DB, database outboxstore.Database) outboxstore.Driver[*sql.Tx] {
	return &driver{db: db, database: database}
}

func (d *driver) Database() outboxstore.Database { return d.database }

func (d *driver) DB() (sqldb.DB, error) {
	if d == nil || d.db == nil {
		return nil, fmt.Errorf("%w: outboxsql.New needs a *sql.DB", outbox.ErrNoDB)
	}
	return pool{querier{d.db}, d.db}, nil
}

func (d *driver) Tx(tx *sql.Tx) (sqldb.Tx, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: pass the *sql.Tx of the domain change", outbox.ErrNoDB)
	}
	return txDB{querier{tx}, tx}, nil
}

// Begin starts a transaction on db, which ends, rolled back, when ctx does, as
// database/sql's do.
func (d *driver) Begin(ctx context.Context) (*sql.Tx, error) {
	if d == nil || d.db == nil {
		return nil, fmt.Errorf("%w: outboxsql.New needs a *sql.DB", outbox.ErrNoDB)
	}
	return d.db.BeginTx(ctx, nil)
}

// sqlQuerier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// querier adapts database/sql to sqldb.Querier.
type querier struct{ q sqlQuerier }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	args, _ = sqldb.WithoutReplan(args)
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, txDone(err)
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqldb.Rows, error) {
	args, _ = sqldb.WithoutReplan(args)
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, txDone(err)
	}
	return sqlRows{rows}, nil
}

func txDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("%w: %w", outbox.ErrTxDone, err)
	}
	return err
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type pool struct {
	querier
	db *sql.DB
}

func (p pool) Begin(ctx context.Context, opts sqldb.TxOptions) (sqldb.Tx, error) {
	var o sql.TxOptions
	if opts.ReadCommitted {
		o.Isolation = sql.LevelReadCommitted
	}
	// database/sql rolls a transaction back when the context it began with ends, and a
	// batch outlives its claim's context.
	tx, err := p.db.BeginTx(context.WithoutCancel(ctx), &o)
	if err != nil {
		return nil, err
	}
	return txDB{querier{tx}, tx}, nil
}

func (p pool) Conn(ctx context.Context) (sqldb.Conn, error) {
	c, err := p.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return conn{querier{c}, c}, nil
}

type txDB struct {
	querier
	tx *sql.Tx
}

func (t txDB) Commit(context.Context) error   { return txDone(t.tx.Commit()) }
func (t txDB) Rollback(context.Context) error { return txDone(t.tx.Rollback()) }

type conn struct {
	querier
	c *sql.Conn
}

func (c conn) Close() error { return c.c.Close() }
