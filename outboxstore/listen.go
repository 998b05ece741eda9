package outboxstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay/source"
)

// Listen implements source.Notifier. Over pgx on PostgreSQL it returns a listener on a
// LISTEN connection of the relay's own; elsewhere (database/sql, MySQL, SQLite) nil,
// and the relay polls. Writers notify the live relays (those that heartbeat) that wait.
func (t table) Listen(ctx context.Context, owner string) (source.Listener, error) {
	ld, ok := t.c.drv.(sqldb.Notifications)
	ch, hasChannel := t.c.d.(interface{ Channel() string })
	if !ok || !hasChannel {
		return nil, nil
	}
	l, err := ld.Listen(ctx, ch.Channel())
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return &listener{t: t, l: l, owner: owner}, nil
}

// listener waits for writes on behalf of one relay.
type listener struct {
	t     table
	l     sqldb.Listener
	owner string
}

// setWaiting tells writers whether owner waits for a notification of their inserts.
func (t table) setWaiting(ctx context.Context, owner string, waiting bool) error {
	if _, err := sqldb.Exec(ctx, t.c.db, t.c.q["set_waiting"], owner, waiting); err != nil {
		return fmt.Errorf("set waiting: %w", err)
	}
	return nil
}

// Wait marks the relay waiting, returns at once if the watermark moved past since, and
// otherwise waits for the insert trigger's notification, ctx, or timeout.
func (l *listener) Wait(ctx context.Context, since int64, timeout time.Duration) error {
	if err := l.t.setWaiting(ctx, l.owner, true); err != nil {
		return err
	}
	defer func() { _ = l.t.setWaiting(context.WithoutCancel(ctx), l.owner, false) }()
	// A write that committed before writers could see the flag sent no notification.
	if w, err := l.t.Watermark(ctx); err != nil || w != since {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := l.l.Wait(wctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("wait for notification: %w", err)
}

// Close ends the LISTEN session.
func (l *listener) Close() { l.l.Close() }
