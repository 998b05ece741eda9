package postgres

import (
	"context"
	"fmt"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Inbox validates schema and table (empty = "public" and "inbox") and loads the consumer
// inbox's statements for them.
func Inbox(schema, table string) (*sqldb.Inbox, error) {
	if schema == "" {
		schema = "public"
	}
	if table == "" {
		table = "inbox"
	}
	if err := sqldb.CheckIdent("Schema", schema, 63, ""); err != nil {
		return nil, err
	}
	// The longest derived name is table + "_handled_idx" (12 more).
	if err := sqldb.CheckIdent("Table", table, 51, " (PostgreSQL keeps 63 characters, and index names add 12)"); err != nil {
		return nil, err
	}
	q := func(name string) string { return `"` + schema + `"."` + name + `"` }
	quote := func(ident string) string { return `"` + ident + `"` }
	n := sqldb.Names{Schema: schema, Table: table, Qualified: q(table), Vars: sqldb.Vars{
		"schema": quote(schema), "table": q(table), "dead": q(table + "_dead"), "migrations": q(table + "_migrations"),
		"name_handled_idx": quote(table + "_handled_idx"), "name_retry_idx": quote(table + "_retry_idx"),
	}}
	queries, err := sqldb.LoadInbox(files, n, sqldb.Dollar)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &sqldb.Inbox{Names: n, Queries: queries, Migrate: func(ctx context.Context, db sqldb.DB) ([]int, error) {
		return migrate(ctx, db, "inbox_migrations", n.Vars)
	}}, nil
}
