package outboxpgx

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/internal/walstream"
)

// Listen subscribes a connection of the pool's own to channel until Close: the store's
// way to wake an idle relay.
func (d *driver) Listen(ctx context.Context, channel string) (sqldb.Listener, error) {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		c.Release()
		return nil, fmt.Errorf("LISTEN: %w", err)
	}
	return listener{c}, nil
}

type listener struct{ c *pgxpool.Conn }

func (l listener) Wait(ctx context.Context) error {
	_, err := l.c.Conn().WaitForNotification(ctx)
	return err
}

// Close ends the LISTEN session. The connection is closed rather than returned to the
// pool: it may be mid-wait or broken, and it still listens.
func (l listener) Close() {
	_ = l.c.Conn().Close(context.Background())
	l.c.Release()
}

// Replicate opens WAL mode's replication connection with the pool's connection
// settings (its role needs the REPLICATION attribute: give the relay's store a pool of
// such a role), waits until no other relay reads the slot, and streams it.
func (d *driver) Replicate(ctx context.Context, o sqldb.ReplicationOptions) (sqldb.Replication, error) {
	return walstream.Open(ctx, d.pool.Config().ConnString(), o)
}

// EnableFailover makes an idle slot a failover slot, over a replication connection.
func (d *driver) EnableFailover(ctx context.Context, slot string) error {
	return walstream.EnableFailover(ctx, d.pool.Config().ConnString(), slot)
}
