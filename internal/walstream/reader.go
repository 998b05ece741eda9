package walstream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// item is an event, or a marker: once every item before it is handled, confirming Pos
// loses nothing, because PostgreSQL re-sends every transaction that commits after it.
type item struct {
	event *sqldb.WALEvent
	pos   uint64
}

// Reader is an attached slot. Its goroutine owns the connection: it decodes the stream
// into items and reports the confirmed position; Next and Confirm are for one caller.
type Reader struct {
	conn  *pgconn.PgConn
	opt   sqldb.ReplicationOptions
	items chan item // closed when the goroutine ends, after err is set
	err   error
	// failed is closed once err is set: the items still buffered are dropped then,
	// not handed out, since they can no longer be confirmed on this connection and
	// the next reader gets them again. (After a failover, publishing them would race
	// the new primary's reader with duplicates: seen, 637 in one run against a bound
	// of 594.)
	failed    chan struct{}
	confirmed atomic.Uint64
	received  atomic.Int64 // when the last message came, Unix ns
	cancel    context.CancelFunc
	done      chan struct{}
}

// Open waits until no other relay reads the slot, then starts streaming from the
// slot's confirmed position. ctx bounds the wait and the start only.
func Open(ctx context.Context, connString string, o sqldb.ReplicationOptions) (*Reader, error) {
	conn, err := connect(ctx, connString, &o)
	if err != nil {
		return nil, err
	}
	var from uint64
	if o.Start != nil {
		if from, err = o.Start(ctx); err != nil {
			conn.Close(context.Background())
			return nil, fmt.Errorf("walstream: slot %s: saved position: %w", o.Slot, err)
		}
	}
	if err := start(ctx, conn, &o, from); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	r := &Reader{conn: conn, opt: o, items: make(chan item, o.Buffer), cancel: cancel, done: make(chan struct{}),
		failed: make(chan struct{})}
	r.confirmed.Store(from) // reported at once: the slot catches up with where it resumed
	go r.run(rctx)
	return r, nil
}

// Next returns the next events in commit order, at most max, waiting for the first, and
// the position to confirm once they (and all before them) are handled: the end of the
// last transaction among them, or 0 when none ended. Its error is the stream's end.
func (r *Reader) Next(ctx context.Context, max int) ([]sqldb.WALEvent, uint64, error) {
	var (
		events  []sqldb.WALEvent
		through uint64
	)
	add := func(it item) {
		if it.event != nil {
			events = append(events, *it.event)
		} else {
			through = it.pos
		}
	}
	select {
	case <-r.failed:
		return nil, 0, r.err
	case it, ok := <-r.items:
		if !ok {
			return nil, 0, r.err
		}
		add(it)
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	for len(events) < max {
		select {
		case <-r.failed:
			return nil, 0, r.err
		case it, ok := <-r.items:
			if !ok {
				return events, through, nil // the error comes with the next call
			}
			add(it)
			continue
		default:
		}
		break
	}
	return events, through, nil
}

// Confirm records that everything up to pos is handled. The goroutine reports it to
// the server with the next message it reads: what a crash makes PostgreSQL send again
// is then only what the relay had not confirmed, and what it confirmed since. While
// messages come, the next is a fraction of a millisecond away; otherwise Confirm wakes
// the goroutine to report at once, rather than wake it for every confirmation of a
// stream of small transactions (a timer, a goroutine switch and the read set up anew).
func (r *Reader) Confirm(pos uint64) {
	for {
		old := r.confirmed.Load()
		if uint64(pos) <= old {
			return
		}
		if r.confirmed.CompareAndSwap(old, uint64(pos)) {
			if time.Now().UnixNano()-r.received.Load() > int64(flowing) {
				_ = r.conn.Conn().SetReadDeadline(time.Now()) // the read in progress returns a timeout
			}
			return
		}
	}
}

// flowing is how recent the last message must be for the next to report a
// confirmation.
const flowing = time.Millisecond

// Confirmed is the highest position Confirm was given, or the one streaming resumed
// from.
func (r *Reader) Confirmed() uint64 { return r.confirmed.Load() }

// Close reports the confirmed position and ends the session, which frees the slot and
// the lock for a standby at once.
func (r *Reader) Close() {
	r.cancel()
	<-r.done
	if c := r.confirmed.Load(); c > 0 && !r.conn.IsClosed() {
		_ = pglogrepl.SendStandbyStatusUpdate(context.Background(), r.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(c)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.conn.Close(ctx)
}

// run reads the stream until ctx ends or the connection fails.
func (r *Reader) run(ctx context.Context) {
	defer close(r.done)
	defer close(r.items)
	defer func() {
		if r.err != nil {
			close(r.failed)
		}
	}()
	st := status{r: r, last: time.Now()}
	var (
		tx     txn
		window time.Time
	)
	// A read deadline rather than a context per read: the loop wakes every 100 ms to
	// report the position, and a timed-out read leaves the connection usable.
	stop := context.AfterFunc(ctx, func() { _ = r.conn.Conn().SetReadDeadline(time.Now()) })
	defer stop()
	for {
		if now := time.Now(); now.After(window) {
			window = now.Add(100 * time.Millisecond)
			_ = r.conn.Conn().SetReadDeadline(window)
		}
		msg, err := r.conn.ReceiveMessage(context.Background())
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			r.received.Store(time.Now().UnixNano())
		}
		if err == nil || pgconn.Timeout(err) {
			if serr := st.maybeSend(false); serr != nil {
				err = serr
			}
		}
		if err != nil {
			if pgconn.Timeout(err) {
				window = time.Time{} // a fresh deadline, whether it expired or Confirm woke us
				continue
			}
			r.err = fmt.Errorf("walstream: slot %s: %w", r.opt.Slot, err)
			return
		}
		var it *item
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			it, err = r.decode(m.Data, &tx, &st)
		case *pgproto3.ErrorResponse:
			err = pgconn.ErrorResponseToPgError(m)
		case *pgproto3.CopyDone:
			err = errors.New("server ended the stream")
		}
		if err == nil && it != nil && !r.emit(ctx, *it, &st) {
			return
		}
		if err != nil {
			r.err = fmt.Errorf("walstream: slot %s: %w", r.opt.Slot, err)
			return
		}
	}
}

// emit hands it to Next, reporting the position meanwhile so that a relay held up by
// Kafka does not look like a dead reader to the server.
func (r *Reader) emit(ctx context.Context, it item, st *status) bool {
	select {
	case r.items <- it:
		return true
	default:
	}
	tick := time.NewTicker(r.opt.StatusInterval)
	defer tick.Stop()
	for {
		select {
		case r.items <- it:
			return true
		case <-ctx.Done():
			return false
		case <-tick.C:
			if err := st.maybeSend(true); err != nil {
				r.err = err
				return false
			}
		}
	}
}
