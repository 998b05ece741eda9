package source

import (
	"context"
	"time"
)

// Notifier is implemented by a Store that can tell cheaply that messages may have been
// written: while messages flow, the relay polls Watermark every few milliseconds instead
// of waiting its poll interval; once quiet, it waits on a Listener where the store has
// one (PostgreSQL over pgx: LISTEN/NOTIFY), and otherwise polls Watermark.
type Notifier interface {
	// Watermark returns a number that changes whenever a message may have been written;
	// it must be cheap enough to call every few milliseconds.
	Watermark(ctx context.Context) (int64, error)
	// Listen opens a listener for one relay. A store that cannot wait for writes returns
	// a nil Listener and no error.
	Listen(ctx context.Context, owner string) (Listener, error)
}

// Listener waits for writes on behalf of one relay.
type Listener interface {
	// Wait returns when a write is announced, at once if the watermark is no longer
	// since, after timeout, or when ctx ends. Writers announce writes only to relays
	// that wait, so a busy relay costs them nothing.
	Wait(ctx context.Context, since int64, timeout time.Duration) error
	Close()
}
