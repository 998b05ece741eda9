package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql over MariaDB

	"github.com/firstunicorn/outbox/outboxstore"
)

// MariaDBURL is OUTBOX_MARIADB_URL, or the services script's MariaDB.
func MariaDBURL() string {
	if u := os.Getenv("OUTBOX_MARIADB_URL"); u != "" {
		return u
	}
	return "mysql://outbox@127.0.0.1:53306/outbox"
}

// MariaDBDSN is MariaDBURL as go-sql-driver/mysql's DSN, for database/sql.
func MariaDBDSN() string {
	u, _ := url.Parse(MariaDBURL())
	pass, _ := u.User.Password()
	return fmt.Sprintf("%s:%s@tcp(%s)%s?interpolateParams=true", u.User.Username(), pass, u.Host, u.Path)
}

// MariaDB connects to MariaDB; closed when the test ends.
func MariaDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", MariaDBDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		Need(t, "MariaDB", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// MariaDBDatabase creates a fresh database, dropped when the test ends.
func MariaDBDatabase(t testing.TB) string {
	t.Helper()
	db := MariaDB(t)
	name := Name("t")
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP DATABASE " + name) })
	return name
}

// killableMariaDB is a store connected as a user of its own, whose connections kill
// ends.
func killableMariaDB(t testing.TB, cfg *outboxstore.Config) (Store, func() int) {
	admin := MariaDB(t)
	user := Name("k")
	for _, q := range []string{"CREATE USER " + user, "GRANT ALL PRIVILEGES ON *.* TO " + user} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER " + user) })
	u, _ := url.Parse(MariaDBURL())
	db := OpenSQL(t, "mysql", fmt.Sprintf("%s@tcp(%s)%s?interpolateParams=true", user, u.Host, u.Path))
	kill := func() int { return int(KillMariaDBConns(admin, user)) }
	return sqlOutbox(t, db, outboxstore.MySQL, cfg).Store, kill
}

// KillMariaDBConns ends every connection of user, through admin, and says how many.
func KillMariaDBConns(admin *sql.DB, user string) int64 {
	rows, err := admin.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", user)
	if err != nil {
		return 0
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	_ = rows.Close()
	var n int64
	for _, id := range ids {
		if _, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			n++
		}
	}
	return n
}
