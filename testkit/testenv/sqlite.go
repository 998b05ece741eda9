package testenv

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // database/sql over SQLite
)

// SQLiteURL is a new SQLite database file in the test's temporary directory.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "outbox.db")
}

// SQLiteParams are what the outbox needs of every SQLite connection, as README says:
// writers wait for each other, the file is in WAL mode, and a transaction takes the
// write lock when it begins.
const SQLiteParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// SQLite opens the file of url, a SQLiteURL, with SQLiteParams; closed when the test ends.
func SQLite(t testing.TB, url string) *sql.DB {
	t.Helper()
	return OpenSQL(t, "sqlite", strings.TrimPrefix(url, "sqlite:")+"?"+SQLiteParams)
}

// OpenSQL opens a database/sql pool of driver on dsn, closed when the test ends. It
// connects lazily: nothing is checked here.
func OpenSQL(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
