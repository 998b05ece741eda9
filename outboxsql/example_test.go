package outboxsql_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"

	_ "github.com/jackc/pgx/v5/stdlib" // or lib/pq: outboxsql imports no driver

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxsql"
)

// With database/sql the event joins the caller's *sql.Tx. (Runs against
// scripts/services.sh's PostgreSQL, or OUTBOX_DATABASE_URL.)
func Example() {
	ctx := context.Background()
	db, err := sql.Open("pgx", cmp.Or(os.Getenv("OUTBOX_DATABASE_URL"), "postgres://postgres@127.0.0.1:55432/outbox"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	cfg := &outboxsql.Config{Schema: "example_outboxsql"}
	_, _ = db.ExecContext(ctx, `DROP SCHEMA IF EXISTS example_outboxsql CASCADE`)
	defer db.ExecContext(ctx, `DROP SCHEMA example_outboxsql CASCADE`)
	store, err := outboxsql.NewStore(db, cfg)
	if err != nil {
		panic(err)
	}
	if _, err := store.Migrate(ctx); err != nil {
		panic(err)
	}
	w, err := outboxsql.NewWriter(cfg)
	if err != nil {
		panic(err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		panic(err)
	}
	// ... the domain change, in tx ...
	err = w.Write(ctx, tx,
		outbox.Message{Topic: "users", Key: []byte("u-1"), Type: "user.signed_up", Payload: []byte(`{"id":"u-1"}`)},
		outbox.Message{Topic: "mail", Type: "mail.welcome", Payload: []byte(`{"to":"u-1"}`)},
	)
	if err != nil {
		_ = tx.Rollback()
		panic(err)
	}
	if err := tx.Commit(); err != nil {
		panic(err)
	}
	st, err := store.Status(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("pending events:", st.Pending)
	// Output: pending events: 2
}
