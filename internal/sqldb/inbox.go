package sqldb

import (
	"context"
	"fmt"
	"io/fs"
)

// Inbox is one dialect's consumer inbox: its names, its statements (inbox.sql) and
// how to bring its tables up to date (inbox_migrations/).
type Inbox struct {
	Names   Names
	Queries Queries
	Migrate func(ctx context.Context, db DB) ([]int, error)
}

// InboxQueries are the statements every dialect's inbox.sql defines.
var InboxQueries = []string{
	"record", "dead", "list_dead", "retry_one", "retry_all", "retries", "take_retry", "fail_retry",
	"purge_dead", "purge_dead_one", "purge", "count_dead", "retry_rows", "purge_dead_rows",
}

// LoadInbox reads fsys's inbox.sql for names, in style.
func LoadInbox(fsys fs.FS, names Names, style Style) (Queries, error) {
	b, err := fs.ReadFile(fsys, "inbox.sql")
	if err != nil {
		return nil, err
	}
	q, err := LoadQueries(string(b), names.Vars, style, InboxQueries...)
	if err != nil {
		return nil, fmt.Errorf("inbox.sql: %w", err)
	}
	return q, nil
}
