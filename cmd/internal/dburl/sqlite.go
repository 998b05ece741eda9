package dburl

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/firstunicorn/outbox/outboxstore"
)

// sqliteParams are what the outbox needs of every SQLite connection: concurrent
// writers wait for each other (busy_timeout) instead of failing at once, and a
// transaction that will write takes the write lock when it begins, not at its first
// write (where SQLite cannot wait, having read an older snapshot).
var sqliteParams = []string{"_pragma=busy_timeout(10000)", "_pragma=journal_mode(WAL)", "_txlock=immediate"}

// openSQLite opens sqlite:PATH (also sqlite://PATH and sqlite:///ABSOLUTE/PATH), with
// modernc.org/sqlite's DSN parameters after '?' passed on.
func openSQLite(ctx context.Context, rawURL string, cfg *outboxstore.Config, _ Options) (*Outbox, error) {
	rest := rawURL[len("sqlite:"):]
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
	}
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, fmt.Errorf("bad database URL %q: no file: use sqlite:/path/to/app.db", rawURL)
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	params := append([]string(nil), sqliteParams...)
	if query != "" {
		params = append(params, query)
	}
	db, err := sql.Open("sqlite", path+"?"+strings.Join(params, "&"))
	if err != nil {
		return nil, fmt.Errorf("bad database URL: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot open the SQLite database %s: %w (does its directory exist, and may this process write there?)", path, err)
	}
	return sqlOutbox(db, outboxstore.SQLite, cfg, path)
}
