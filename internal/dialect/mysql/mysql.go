// Package mysql is the MySQL and MariaDB dialect of the outbox store: its SQL
// (queries.sql, migrations/) and the parts of the protocol only MySQL needs. MySQL has
// no transaction-scoped advisory locks: a batch locks the rows of its buckets in a lock
// table, FOR UPDATE SKIP LOCKED, in its own transaction. It is tested on MariaDB 10.11;
// MySQL 8.0.13 and later has all it uses.
package mysql

import (
	"embed"
	"fmt"
	"sync"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

//go:embed queries.sql inbox.sql migrations/*.sql inbox_migrations/*.sql
var files embed.FS

// Dialect is one MySQL outbox: its names and statements, and what it learnt of the
// server.
type Dialect struct {
	sqldb.SQL
	server struct {
		sync.Mutex
		checked bool
		mariadb bool
	}
}

// New validates schema (a database; empty = the connection's own) and table (empty =
// "outbox") and loads the statements for them.
func New(schema, table string) (*Dialect, error) {
	n, err := newNames(schema, table)
	if err != nil {
		return nil, err
	}
	s, err := sqldb.LoadSQL(files, n, sqldb.Question, append([]string{"peek", "lock"}, sqldb.ClaimNames...)...)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return &Dialect{SQL: s}, nil
}

func newNames(schema, table string) (sqldb.Names, error) {
	if table == "" {
		table = "outbox"
	}
	if schema != "" {
		if err := sqldb.CheckIdent("Schema", schema, 64, " (a MySQL database)"); err != nil {
			return sqldb.Names{}, err
		}
	}
	// The longest derived name is table + "_migrations" (11 more); MySQL keeps 64.
	if err := sqldb.CheckIdent("Table", table, 53, " (MySQL keeps 64 characters, and the migrations table adds 11)"); err != nil {
		return sqldb.Names{}, err
	}
	q := func(name string) string { return qualified(schema, name) }
	return sqldb.Names{Schema: schema, Table: table, Qualified: q(table), Vars: sqldb.Vars{
		"schema": "`" + schema + "`", "table": q(table), "leases": q(table + "_leases"), "relays": q(table + "_relays"),
		"locks": q(table + "_locks"), "migrations": q(table + "_migrations"),
		// Bare names, for information_schema: validated identifiers, safe in quotes.
		"schema_name": schema, "table_name": table,
	}}, nil
}

// qualified is name quoted, in schema when there is one.
func qualified(schema, name string) string {
	if schema == "" {
		return "`" + name + "`"
	}
	return "`" + schema + "`.`" + name + "`"
}

// CheckLimits refuses keys MySQL cannot store: the key column is a BLOB.
func CheckLimits(lim outbox.Limits) error {
	if lim.WithDefaults().MaxKeyBytes > 65535 {
		return fmt.Errorf("%w: Limits.MaxKeyBytes %d: MySQL keeps keys of up to 65535 bytes", outbox.ErrInvalidConfig, lim.MaxKeyBytes)
	}
	return nil
}
