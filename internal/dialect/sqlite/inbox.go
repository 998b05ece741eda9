package sqlite

import (
	"context"
	"fmt"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Inbox validates schema (must be empty) and table (empty = "inbox") and loads the
// consumer inbox's statements for them.
func Inbox(schema, table string) (*sqldb.Inbox, error) {
	if table == "" {
		table = "inbox"
	}
	n, err := newNames(schema, table)
	if err != nil {
		return nil, err
	}
	q := func(name string) string { return `"` + name + `"` }
	n.Vars["dead"], n.Vars["name_handled_idx"], n.Vars["name_retry_idx"] = q(table+"_dead"), q(table+"_handled_idx"), q(table+"_retry_idx")
	queries, err := sqldb.LoadInbox(files, n, sqldb.Question)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return &sqldb.Inbox{Names: n, Queries: queries, Migrate: func(ctx context.Context, db sqldb.DB) ([]int, error) {
		return migrateDir(ctx, db, "inbox_migrations", n.Vars)
	}}, nil
}
