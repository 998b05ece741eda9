package outboxsql_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxsql"
)

// countingExecer counts the statements Write sends.
type countingExecer struct {
	outboxsql.Execer
	n int
}

func (c *countingExecer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.n++
	return c.Execer.ExecContext(ctx, q, args...)
}

func TestWrite(t *testing.T) {
	t.Parallel()
	db, store, w := newOutbox(t)
	ctx := context.Background()
	pending := func() int64 {
		st, err := store.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Pending
	}
	msg := outbox.Message{Topic: "orders", Key: []byte("o-1"), Payload: []byte(`{}`), Headers: map[string]string{"h": "v"}}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, tx, msg); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()
	if n := pending(); n != 0 {
		t.Fatalf("%d events after rollback", n)
	}
	if err := w.Write(ctx, tx, msg); !errors.Is(err, outbox.ErrTxDone) {
		t.Fatalf("rolled-back tx: %v, want ErrTxDone", err)
	}

	msgs := make([]outbox.Message, 500)
	for i := range msgs {
		msgs[i] = msg
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingExecer{Execer: tx}
	if err := w.Write(ctx, c, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if c.n != 1 || pending() != 500 {
		t.Fatalf("500 events: %d statements, %d pending; want 1 and 500", c.n, pending())
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := w.Write(ctx, conn, msg); err != nil { // *sql.Conn works too, outside a transaction
		t.Fatal(err)
	}
	var nilTx *sql.Tx
	if err := w.Write(ctx, nilTx, msg); !errors.Is(err, outbox.ErrNoDB) {
		t.Fatalf("nil *sql.Tx: %v", err)
	}
	if err := w.Write(ctx, db, msg, outbox.Message{Topic: ""}); !errors.Is(err, outbox.ErrInvalidMessage) {
		t.Fatalf("empty topic: %v", err)
	}
	if n := pending(); n != 501 {
		t.Fatalf("pending = %d, want 501: a rejected call must write nothing", n)
	}
}
