package outboxpgx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox/relay"
)

var _ relay.Notifier = (*Store)(nil)

// Listen implements relay.Notifier: a LISTEN connection of the relay's own, taken from
// the pool until Close.
func (s *Store) Listen(ctx context.Context, owner string) (relay.Listener, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.Names().Channel()}.Sanitize()); err != nil {
		conn.Release()
		return nil, fmt.Errorf("listen: %w", err)
	}
	return &listener{store: s, conn: conn, owner: owner}, nil
}

type listener struct {
	store *Store
	conn  *pgxpool.Conn
	owner string
}

// Wait marks the relay waiting, returns at once if the watermark moved past since, and
// otherwise waits for the insert trigger's notification, ctx, or timeout.
func (l *listener) Wait(ctx context.Context, since int64, timeout time.Duration) error {
	if err := l.store.SetWaiting(ctx, l.owner, true); err != nil {
		return err
	}
	defer func() { _ = l.store.SetWaiting(context.WithoutCancel(ctx), l.owner, false) }()
	// A write that committed before writers could see the flag sent no notification.
	if w, err := l.store.Watermark(ctx); err != nil || w != since {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := l.conn.Conn().WaitForNotification(wctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("wait for notification: %w", err)
}

// Close ends the LISTEN session. The connection is closed rather than returned to the
// pool: it may be mid-wait or broken, and it still listens.
func (l *listener) Close() {
	_ = l.conn.Conn().Close(context.Background())
	l.conn.Release()
}
