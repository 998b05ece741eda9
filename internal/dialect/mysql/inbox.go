package mysql

import (
	"context"
	"fmt"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Inbox validates schema (a database; empty = the connection's own) and table (empty =
// "inbox") and loads the consumer inbox's statements for them.
func Inbox(schema, table string) (*sqldb.Inbox, error) {
	if table == "" {
		table = "inbox"
	}
	n, err := newNames(schema, table)
	if err != nil {
		return nil, err
	}
	n.Vars["dead"] = qualified(n.Schema, table+"_dead")
	queries, err := sqldb.LoadInbox(files, n, sqldb.Question)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return &sqldb.Inbox{Names: n, Queries: queries, Migrate: func(ctx context.Context, db sqldb.DB) ([]int, error) {
		return migrate(ctx, db, "inbox_migrations", n)
	}}, nil
}
