// Package sqldb is the seam between the outbox store and the databases it runs on: the
// executor interfaces each Go driver adapter implements (outboxpgx, outboxsql), the named
// queries each dialect loads from its SQL files, and what the dialects share (decoding a
// claimed row, a batch that is one transaction).
package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
)

// Querier runs statements: a pool, a connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// DB is a connection pool.
type DB interface {
	Querier
	// Begin starts a transaction the caller ends. It outlives ctx: ctx bounds only the
	// begin itself, since a batch's transaction outlasts the claim that opened it.
	Begin(ctx context.Context, opts TxOptions) (Tx, error)
	// Conn takes one connection out of the pool until its Close, for what must happen on
	// one session (MySQL's named locks).
	Conn(ctx context.Context) (Conn, error)
}

// TxOptions are the few transaction settings a dialect asks for.
type TxOptions struct {
	// ReadCommitted asks for READ COMMITTED isolation (MySQL's default is REPEATABLE
	// READ, whose gap locks a batch does not need).
	ReadCommitted bool
}

// Tx is a transaction begun with DB.Begin.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Deferring is a Tx that can hold a statement back and send it with the transaction's
// next statement or its commit, in one round trip (outboxpgx's, through pgx's pipeline
// mode). A statement held back reports its error with the one it went with.
type Deferring interface {
	Defer(sql string, args ...any)
}

// Deferred is q, whose Exec holds the statement back when q is Deferring: for statements
// whose effect counts only once the transaction commits, and whose rows-affected no one
// reads (Exec then reports 0).
func Deferred(q Querier) Querier {
	if d, ok := q.(deferringQuerier); ok {
		return deferred{d}
	}
	return q
}

type deferringQuerier interface {
	Querier
	Deferring
}

type deferred struct{ deferringQuerier }

func (d deferred) Exec(_ context.Context, sql string, args ...any) (int64, error) {
	d.Defer(sql, args...)
	return 0, nil
}

// Replan, as a statement's first argument, asks the driver to have the statement
// planned for the table as it is each time it runs, rather than once for all (pgx's
// cached statements): for the relay's peek, which runs outside a batch's transaction.
// PostgreSQL's plan for all runs is chosen on its first few, and one chosen while the
// outbox was small scans the whole table, or every index entry of the buckets, for as
// long as the statement is cached: 12 ms a peek, and growing, once the dead rows of a
// minute of events were there. Drivers that plan each run anyway drop it.
type Replan struct{}

// WithoutReplan is args without a leading Replan, and whether there was one.
func WithoutReplan(args []any) ([]any, bool) {
	if len(args) > 0 {
		if _, ok := args[0].(Replan); ok {
			return args[1:], true
		}
	}
	return args, false
}

// Conn is one connection held out of the pool.
type Conn interface {
	Querier
	Close() error
}

// Rows is the part of a result set the store reads.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Int64s is a list argument: a PostgreSQL array (pgx sends it natively, database/sql as
// the text literal Value returns), or, in the ? dialects, one placeholder per element.
type Int64s []int64

// Value implements driver.Valuer with PostgreSQL's array literal, '{1,2,3}', which any
// PostgreSQL driver for database/sql passes through.
func (a Int64s) Value() (driver.Value, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	b.WriteByte('}')
	return b.String(), nil
}

// Strings is a list argument of strings without quotes, commas or braces (event ids):
// a PostgreSQL text array, or one placeholder per element.
type Strings []string

// Value implements driver.Valuer with PostgreSQL's array literal.
func (a Strings) Value() (driver.Value, error) {
	return "{" + strings.Join(a, ",") + "}", nil
}

func (a Strings) elems() []any {
	out := make([]any, len(a))
	for i, v := range a {
		out[i] = v
	}
	return out
}

// Keys is a list argument of keys: in the ? dialects, one placeholder per key.
type Keys [][]byte

// list is a list argument Bind expands in the ? dialects.
type list interface{ elems() []any }

func (a Int64s) elems() []any {
	out := make([]any, len(a))
	for i, v := range a {
		out[i] = v
	}
	return out
}

func (k Keys) elems() []any {
	out := make([]any, len(k))
	for i, v := range k {
		out[i] = v
	}
	return out
}

// Ints converts bucket numbers to a list argument.
func Ints(vs []int) Int64s {
	out := make(Int64s, len(vs))
	for i, v := range vs {
		out[i] = int64(v)
	}
	return out
}

// ErrUnsupported wraps a database or setting the outbox cannot work with; the message
// says what to change.
var ErrUnsupported = errors.New("unsupported database")

// Listener is a session subscribed to a notification channel (PostgreSQL's LISTEN).
type Listener interface {
	// Wait returns when a notification arrives, or with ctx's error.
	Wait(ctx context.Context) error
	Close()
}
