package outboxpgx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/relay"
)

// countingExecer counts the statements Write sends.
type countingExecer struct {
	outboxpgx.Execer
	n int
}

func (c *countingExecer) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.n++
	return c.Execer.Exec(ctx, sql, args...)
}

func TestWrite(t *testing.T) {
	t.Parallel()
	pool, store, w := newOutbox(t)
	ctx := context.Background()
	pending := func() int64 {
		st, err := store.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Pending
	}
	msg := outbox.Message{Topic: "orders", Key: []byte("o-1"), Payload: []byte(`{}`)}

	t.Run("rollback leaves nothing", func(t *testing.T) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(ctx, tx, msg, msg); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pending(); n != 0 {
			t.Fatalf("%d events after rollback", n)
		}
	})
	t.Run("commit stores all in one round trip", func(t *testing.T) {
		msgs := make([]outbox.Message, 1000)
		for i := range msgs {
			msgs[i] = msg
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			c := &countingExecer{Execer: tx}
			err := w.Write(ctx, c, msgs...)
			if c.n != 1 {
				t.Errorf("1000 events took %d statements, want 1", c.n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := pending(); n != 1000 {
			t.Fatalf("%d events after commit, want 1000", n)
		}
	})
	t.Run("one bad message writes none", func(t *testing.T) {
		before := pending()
		err := w.Write(ctx, pool, msg, outbox.Message{Topic: "bad topic!"})
		if !errors.Is(err, outbox.ErrInvalidMessage) {
			t.Fatalf("err = %v, want ErrInvalidMessage", err)
		}
		if n := pending(); n != before {
			t.Fatalf("a rejected call wrote %d events", n-before)
		}
	})
	t.Run("nil and finished transactions", func(t *testing.T) {
		var nilTx pgx.Tx
		if err := w.Write(ctx, nilTx, msg); !errors.Is(err, outbox.ErrNoDB) {
			t.Fatalf("nil tx: %v", err)
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(ctx, tx, msg); !errors.Is(err, outbox.ErrTxDone) {
			t.Fatalf("committed tx: %v, want ErrTxDone", err)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []outboxpgx.Config{
		{Table: `outbox"; DROP TABLE users; --`},
		{Schema: "Public"},
		{Table: "1outbox"},
		{Table: "a_very_long_table_name_that_postgres_would_truncate_x"},
		{Limits: outbox.Limits{MaxPayloadBytes: -1}},
	} {
		if _, err := outboxpgx.NewWriter(&cfg); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("NewWriter(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
		if _, err := outboxpgx.NewStore(nil, &cfg); err == nil {
			t.Errorf("NewStore(nil, %+v) accepted", cfg)
		}
	}
}

// Status counts the messages of open batches as in flight, and the rest as pending.
func TestStatusInFlight(t *testing.T) {
	t.Parallel()
	pool, store, w := newOutbox(t)
	ctx := context.Background()
	msgs := make([]outbox.Message, 10)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "t", Key: []byte{byte(i)}}
	}
	if err := w.Write(ctx, pool, msgs...); err != nil {
		t.Fatal(err)
	}
	buckets := make([]int, store.Buckets())
	for i := range buckets {
		buckets[i] = i
	}
	b, err := store.Claim(ctx, &relay.ClaimParams{Buckets: buckets, Limit: 4})
	if err != nil || b == nil {
		t.Fatalf("claim: %v", err)
	}
	st, err := store.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != 4 || st.Pending != 6 {
		t.Fatalf("with a batch of 4 open: %+v, want 4 in flight and 6 pending", st)
	}
	if err := b.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := store.Status(ctx); st.InFlight != 0 || st.Pending != 10 {
		t.Fatalf("after the batch ended: %+v", st)
	}
}

// A database refusing writes (here: read-only transactions) fails the caller's
// transaction as a whole, with the database's reason in the error, and stores nothing.
func TestWriteRefusedByDatabase(t *testing.T) {
	t.Parallel()
	pool, store, w := newOutbox(t)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET TRANSACTION READ ONLY"); err != nil {
			return err
		}
		return w.Write(ctx, tx, outbox.Message{Topic: "t", Key: []byte("k")})
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" || !strings.Contains(err.Error(), "outbox: write 1 messages") {
		t.Fatalf("err = %v; want the write's context and SQLSTATE 25006 (read-only transaction)", err)
	}
	if st, _ := store.Status(ctx); st.Pending != 0 {
		t.Fatalf("a refused write stored %d events", st.Pending)
	}
}
