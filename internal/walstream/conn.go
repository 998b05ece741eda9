// Package walstream reads WAL mode's events from a PostgreSQL logical replication slot
// (pgoutput with messages on, through github.com/jackc/pglogrepl): it attaches as the
// slot's single reader, decodes the outbox's logical messages in commit order and
// reports back the position up to which the relay has published.
package walstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// ErrSlotInUse is a slot read by a session that does not hold the reader's lock
// (pg_recvlogical run by hand, say) for longer than Attach waits.
var ErrSlotInUse = errors.New("replication slot in use")

// connect opens a replication connection and waits, on its session-level advisory lock,
// until no other relay reads the slot. The lock is how a standby learns it may attach:
// PostgreSQL releases it when the reader's session ends, whether the relay stopped,
// crashed or lost its network, and the waiting standby's lock call returns at that moment.
// The slot itself admits one reader, so the lock is a signal, not what keeps readers apart.
func connect(ctx context.Context, connString string, o *sqldb.ReplicationOptions) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("walstream: database URL: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	if o.AppName != "" {
		cfg.RuntimeParams["application_name"] = o.AppName
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("walstream: replication connection: %w", err)
	}
	lock := fmt.Sprintf("SELECT pg_advisory_lock(hashtextextended('go-outbox wal slot %s', 0))", o.Slot)
	if _, err := conn.Exec(ctx, lock).ReadAll(); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("walstream: wait for slot %s: %w", o.Slot, err)
	}
	return conn, nil
}

// start begins streaming from the slot's confirmed position. A slot still held by the
// session of a reader that just ended is retried for a few seconds.
func start(ctx context.Context, conn *pgconn.PgConn, o *sqldb.ReplicationOptions) error {
	args := []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", o.Publication), "messages 'true'"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := pglogrepl.StartReplication(ctx, conn, o.Slot, 0, pglogrepl.StartReplicationOptions{
			Mode: pglogrepl.LogicalReplication, PluginArgs: args,
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			if err != nil {
				return fmt.Errorf("walstream: start replication on slot %s: %w", o.Slot, err)
			}
			return nil
		}
		if err := drainToReady(ctx, conn); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("walstream: %w: %s: stop the other reader (see pg_replication_slots.active_pid)", ErrSlotInUse, pgErr.Message)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// drainToReady reads up to the ReadyForQuery that follows a failed command.
func drainToReady(ctx context.Context, conn *pgconn.PgConn) error {
	for {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			return fmt.Errorf("walstream: %w", err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return nil
		}
	}
}
