package sqldb

import (
	"context"
	"errors"
	"time"
)

// Driver is what a Go database driver adapter (outboxpgx, outboxsql) gives the outbox
// and inbox stores. The public outboxstore.Driver shows only its Database; the stores
// find these methods by type assertion, so a type from outside this module, which cannot
// name this package's types, cannot be a driver.
type Driver[TTx any] interface {
	// DB is the pool the stores run their own statements through.
	DB() (DB, error)
	// Begin starts a transaction (outboxstore.Driver's method).
	Begin(ctx context.Context) (TTx, error)
	// Tx adapts a transaction of the caller's, for Write, or one Begin started, which
	// the inbox commits or rolls back.
	Tx(tx TTx) (Tx, error)
}

// Notifications is a Driver that can wait for notifications (outboxpgx): an idle relay
// is woken by them instead of polling.
type Notifications interface {
	Listen(ctx context.Context, channel string) (Listener, error)
}

// Replicator is a Driver that can read WAL mode's replication slot (outboxpgx, through
// pglogrepl). The drivers without it keep the programs that use them free of pgconn
// and pglogrepl; WAL mode's relay needs it.
type Replicator interface {
	Replicate(ctx context.Context, o ReplicationOptions) (Replication, error)
	// EnableFailover makes an idle slot a failover slot (PostgreSQL 17).
	EnableFailover(ctx context.Context, slot string) error
}

// ReplicationOptions name what a Replication reads.
type ReplicationOptions struct {
	Slot, Publication, Prefix string
	// HeartbeatPrefix marks the relay's heartbeat messages, which carry no event.
	HeartbeatPrefix string
	// Buffer is how many decoded items may wait for the relay.
	Buffer int
	// AppName is the replication connection's application_name, which names the relay
	// in pg_stat_replication.
	AppName string
	// StatusInterval is how often the confirmed position is reported while it does not
	// change (PostgreSQL ends a silent reader after wal_sender_timeout).
	StatusInterval time.Duration
	// Start, when set, says where to stream from if that is past the slot's confirmed
	// position (the server skips the transactions that commit before it; 0 = the
	// slot's). It is asked once the reader holds the slot's lock, after the previous
	// reader's last word.
	Start func(ctx context.Context) (uint64, error)
	// Failover makes the slot a failover slot before streaming, if it is not one
	// (PostgreSQL 17's ALTER_REPLICATION_SLOT, which needs the slot idle: the reader
	// does it once it holds the slot's lock).
	Failover bool
}

// Replication is an attached replication slot: it waited until no other relay read the
// slot, and streams the outbox's messages from the slot's confirmed position.
type Replication interface {
	// Next returns the next events in commit order, at most max, waiting for the first,
	// and the position to confirm once they (and all before them) are handled: the end
	// of the last transaction among them, or 0 when none ended. Its error is the
	// stream's end.
	Next(ctx context.Context, max int) ([]WALEvent, uint64, error)
	// Confirm reports that everything up to pos is handled.
	Confirm(pos uint64)
	// Confirmed is the highest position confirmed (or streaming resumed from).
	Confirmed() uint64
	// Close detaches.
	Close()
}

// WALEvent is one outbox message read from the slot.
type WALEvent struct {
	// Content is the message's envelope (internal/walenvelope), a copy the relay keeps.
	Content []byte
	// Committed is when its transaction committed.
	Committed time.Time
	// LSN is the message's position in the WAL.
	LSN uint64
	// Commit is its transaction's commit position, and Index its place among the
	// transaction's events: together they order events as the stream does.
	Commit uint64
	Index  uint32
}

// Recorder is a Querier that records the statements it is given instead of running
// them: how a write's statements are built without a connection.
type Recorder struct{ Stmts []Statement }

// Exec records sql and args.
func (r *Recorder) Exec(_ context.Context, sql string, args ...any) (int64, error) {
	r.Stmts = append(r.Stmts, Statement{SQL: sql, Args: args})
	return 0, nil
}

// Query is refused: a write runs no queries.
func (r *Recorder) Query(context.Context, string, ...any) (Rows, error) {
	return nil, errors.New("sqldb: a recorded write ran a query")
}
