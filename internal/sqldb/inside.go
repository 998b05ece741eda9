package sqldb

import (
	"context"

	"github.com/firstunicorn/outbox"
)

// What other packages of this module reach inside an *outboxstore.Store for, without the
// store exporting methods that only they need: package outboxstore sets these when it
// is initialised, and a store of another type is their error.
var (
	// Statements returns the statements that store's Write would run for msgs:
	// outboxpgx.Queue puts them on the caller's pgx.Batch.
	Statements func(ctx context.Context, store any, msgs []outbox.Message) ([]Statement, error)
	// Pending returns up to limit pending events of store's outbox as tx, a transaction of
	// the store's type, sees them, in write order: outboxtest's assertions.
	Pending func(ctx context.Context, store, tx any, limit int) ([]outbox.Message, error)
)

// Statement is one statement with its arguments, as a Querier takes them.
type Statement struct {
	SQL  string
	Args []any
}
