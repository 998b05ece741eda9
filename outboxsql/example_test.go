package outboxsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // or github.com/go-sql-driver/mysql, or pgx's stdlib: outboxsql imports no driver

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
)

// With database/sql the event joins the caller's *sql.Tx. Here the database is SQLite,
// a file beside the service: open it so that concurrent writers wait for each other
// (busy_timeout) and transactions take the write lock when they begin (_txlock).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "outboxsql-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		panic(err)
	}
	defer db.Close()

	store, err := outboxstore.New(outboxsql.New(db, outboxstore.SQLite), nil)
	if err != nil {
		panic(err)
	}
	if _, err := store.Admin().Migrate(ctx); err != nil { // or: outbox migrate --database-url sqlite:app.db
		panic(err)
	}
	msg := outbox.Message{Topic: "orders", Key: []byte("order-42"), Type: "order.placed", Payload: []byte(`{"id":42}`)}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		panic(err)
	}
	// ... the domain change, in tx ...
	if err := store.Write(ctx, tx, msg); err != nil {
		panic(err)
	}
	if err := tx.Commit(); err != nil {
		panic(err)
	}

	tx, _ = db.BeginTx(ctx, nil)
	_ = store.Write(ctx, tx, msg)
	_ = tx.Rollback() // the domain change failed: the event goes too

	st, err := store.Admin().Status(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("pending events:", st.Pending)
	// Output: pending events: 1
}
