// Package pgstore is the PostgreSQL outbox store shared by outboxpgx and outboxsql. It
// speaks to the database through DB, which each of those packages adapts from its
// driver, so the SQL and its logic exist once.
package pgstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"

	"github.com/firstunicorn/outbox"
)

// Buckets is the number of key buckets, fixed by the schema (migrations/001_init.sql).
const Buckets = 64

// DB is the part of a connection pool the store uses. Arrays travel as text literals
// ('{1,2,3}') so any driver can carry them.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// InTx runs fn in a transaction, committing when it returns nil.
	InTx(ctx context.Context, fn func(DB) error) error
	// Begin starts a transaction the caller ends.
	Begin(ctx context.Context) (Tx, error)
}

// Tx is a transaction begun with DB.Begin.
type Tx interface {
	DB
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Rows is the part of a result set the store reads.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Names is the validated, quoted set of identifiers of one outbox.
type Names struct {
	Schema, Table string // as configured, unquoted
	table         string // quoted, schema-qualified
	leases        string
	relays        string
	migrations    string
	lockClass     int32  // advisory-lock class of this outbox's bucket locks
	appName       string // application_name prefix of its open batches
}

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// NewNames validates schema and table (empty = "public" and "outbox") and returns the
// quoted names. Only lower-case letters, digits and '_' are accepted, which rules out
// SQL injection through configuration and case-folding surprises alike.
func NewNames(schema, table string) (Names, error) {
	if schema == "" {
		schema = "public"
	}
	if table == "" {
		table = "outbox"
	}
	if !identRe.MatchString(schema) || len(schema) > 63 {
		return Names{}, fmt.Errorf("%w: Schema %q: use 1-63 lower-case letters, digits or '_', not starting with a digit",
			outbox.ErrInvalidConfig, schema)
	}
	// The longest derived name is table + "_published_idx" (14 more); Postgres keeps 63.
	if !identRe.MatchString(table) || len(table) > 49 {
		return Names{}, fmt.Errorf("%w: Table %q: use 1-49 lower-case letters, digits or '_', not starting with a digit",
			outbox.ErrInvalidConfig, table)
	}
	q := func(name string) string { return `"` + schema + `"."` + name + `"` }
	h := fnv.New32a()
	h.Write([]byte(q(table)))
	sum := h.Sum32()
	return Names{
		Schema: schema, Table: table,
		table: q(table), leases: q(table + "_leases"), relays: q(table + "_relays"),
		migrations: q(table + "_migrations"),
		lockClass:  int32(sum),
		appName:    fmt.Sprintf("outbox-batch:%08x:", sum),
	}, nil
}

// Channel is the LISTEN/NOTIFY channel on which inserts into this outbox are announced.
func (n Names) Channel() string { return strings.TrimSuffix(n.appName, ":") }

// Qualified returns the quoted, schema-qualified outbox table name.
func (n Names) Qualified() string { return n.table }
