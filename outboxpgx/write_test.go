package outboxpgx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
)

// countingTx counts the statements Write sends.
type countingTx struct {
	pgx.Tx
	n int
}

func (c *countingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.n++
	return c.Tx.Exec(ctx, sql, args...)
}

// Write sends 1000 events in one statement: one round trip in the caller's transaction.
func TestWriteOneRoundTrip(t *testing.T) {
	t.Parallel()
	pool, s := newOutbox(t)
	ctx := context.Background()
	msgs := make([]outbox.Message, 1000)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "orders", Key: []byte("o-1"), Payload: []byte(`{}`)}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		c := &countingTx{Tx: tx}
		err := s.Write(ctx, c, msgs...)
		if c.n != 1 {
			t.Errorf("1000 events took %d statements, want 1", c.n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none") // connects lazily: never here
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, cfg := range []outboxstore.Config{
		{Table: `outbox"; DROP TABLE users; --`},
		{Schema: "Public"},
		{Table: "1outbox"},
		{Table: "a_very_long_table_name_that_postgres_would_truncate_x"},
		{Limits: outbox.Limits{MaxPayloadBytes: -1}},
	} {
		if _, err := outboxstore.New(outboxpgx.New(nil), &cfg); err == nil {
			t.Errorf("New(nil pool, %+v) accepted", cfg)
		}
		_, err := outboxstore.New(outboxpgx.New(pool), &cfg)
		if !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := outboxstore.New(outboxpgx.New(nil), nil); !errors.Is(err, outbox.ErrNoDB) {
		t.Errorf("nil pool: %v, want ErrNoDB", err)
	}
}

// A database refusing writes (here: read-only transactions) fails the caller's
// transaction as a whole, with the database's reason in the error, and stores nothing.
func TestWriteRefusedByDatabase(t *testing.T) {
	t.Parallel()
	pool, s := newOutbox(t)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET TRANSACTION READ ONLY"); err != nil {
			return err
		}
		return s.Write(ctx, tx, outbox.Message{Topic: "t", Key: []byte("k")})
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" || !strings.Contains(err.Error(), "outbox: write 1 messages") {
		t.Fatalf("err = %v; want the write's context and SQLSTATE 25006 (read-only transaction)", err)
	}
	if st, _ := s.Admin().Status(ctx); st.Pending != 0 {
		t.Fatalf("a refused write stored %d events", st.Pending)
	}
}
