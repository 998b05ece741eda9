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
	conn, err := dial(ctx, connString, o.AppName)
	if err != nil {
		return nil, err
	}
	lock := fmt.Sprintf("SELECT pg_advisory_lock(hashtextextended('go-outbox wal slot %s', 0))", o.Slot)
	if _, err := conn.Exec(ctx, lock).ReadAll(); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("walstream: wait for slot %s: %w", o.Slot, err)
	}
	if o.Failover {
		if err := enableFailover(ctx, conn, o.Slot); err != nil {
			conn.Close(context.Background())
			return nil, err
		}
	}
	return conn, nil
}

// EnableFailover makes slot a failover slot unless it is one, over a replication
// connection of its own; the slot must be idle.
func EnableFailover(ctx context.Context, connString, slot string) error {
	conn, err := dial(ctx, connString, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return enableFailover(ctx, conn, slot)
}

// enableFailover makes slot a failover slot unless it is one. pglogrepl has no
// ALTER_REPLICATION_SLOT, a replication command: it goes through pgconn as text. A
// reader that ended a moment ago may still hold the slot, as for START_REPLICATION.
func enableFailover(ctx context.Context, conn *pgconn.PgConn, slot string) error {
	res, err := conn.Exec(ctx, fmt.Sprintf("SELECT failover FROM pg_replication_slots WHERE slot_name = '%s'", slot)).ReadAll()
	if err != nil {
		return fmt.Errorf("walstream: slot %s: %w", slot, err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 || string(res[0].Rows[0][0]) == "t" {
		return nil
	}
	return whileInUse(ctx, func() error {
		_, err := conn.Exec(ctx, fmt.Sprintf(`ALTER_REPLICATION_SLOT "%s" ( FAILOVER true )`, slot)).ReadAll()
		if err != nil {
			return fmt.Errorf("walstream: make slot %s a failover slot: %w", slot, err)
		}
		return nil
	})
}

// whileInUse runs f until it does not fail with object_in_use (55006), for at most 10
// s: a slot is still held for a moment by the session of a reader that just ended.
func whileInUse(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dial opens a replication connection. A multi-host URL with
// target_session_attrs=read-write reaches whichever server is primary, as pgx's pools do.
func dial(ctx context.Context, connString, appName string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("walstream: database URL: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	if appName != "" {
		cfg.RuntimeParams["application_name"] = appName
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("walstream: replication connection: %w", err)
	}
	return conn, nil
}

// start begins streaming from the slot's confirmed position, or from, when that is
// later. A slot still held by the session of a reader that just ended is retried for a
// few seconds.
func start(ctx context.Context, conn *pgconn.PgConn, o *sqldb.ReplicationOptions, from uint64) error {
	args := []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", o.Publication), "messages 'true'"}
	err := whileInUse(ctx, func() error {
		err := pglogrepl.StartReplication(ctx, conn, o.Slot, pglogrepl.LSN(from), pglogrepl.StartReplicationOptions{
			Mode: pglogrepl.LogicalReplication, PluginArgs: args,
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" { // to be tried again: read the rest of the answer
			if derr := drainToReady(ctx, conn); derr != nil {
				return derr
			}
		}
		return err
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "55006":
		return fmt.Errorf("walstream: %w: %s: stop the other reader (see pg_replication_slots.active_pid)", ErrSlotInUse, pgErr.Message)
	case err != nil:
		return fmt.Errorf("walstream: start replication on slot %s: %w", o.Slot, err)
	}
	return nil
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
