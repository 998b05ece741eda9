// Package dburl opens an outbox store from a database URL: postgres:// through pgx,
// mysql:// through go-sql-driver/mysql, sqlite: through modernc.org/sqlite. The outbox
// command, its benchmark and the fault-injection suite share it; the library packages
// import no database driver.
package dburl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
)

// Outbox is a store opened from a URL, with its connections.
type Outbox struct {
	// Admin is the store's operator side, Source the store itself, for relay.New.
	Admin  *outboxstore.Admin
	Source relay.Source
	// InTx runs fn in a transaction and commits it when fn returns nil.
	InTx func(ctx context.Context, fn func(Tx) error) error
	// QueryRow runs a query outside the outbox and scans its first row into dest.
	QueryRow func(ctx context.Context, sql string, args []any, dest ...any) error
	// Exec runs a statement outside the outbox.
	Exec func(ctx context.Context, sql string, args ...any) error
	// Batched runs one transaction of sql and, queued with it, msgs in two round trips:
	// BEGIN, sql and the events in one batch, then COMMIT (pgx's Batch.BeginTx and
	// outboxpgx.Queue). It is nil on database/sql, which sends a statement at a time.
	Batched func(ctx context.Context, sql string, args []any, msgs ...outbox.Message) error
	// Inbox returns the consumer inbox in the same database, through the same driver.
	Inbox func(cfg *inbox.Config) (*inbox.Admin, error)
	// Close closes the connections.
	Close func()
	// Addr is where the database is, for messages: host:port or a file.
	Addr string
}

// Tx is one transaction of an application: its own statements and its events.
type Tx interface {
	Exec(ctx context.Context, sql string, args ...any) error
	Write(ctx context.Context, msgs ...outbox.Message) error
	// ExecWrite runs sql and writes msgs in one round trip where the driver can (pgx:
	// outboxpgx.Queue on one batch), and returns ErrNoBatch where it cannot.
	ExecWrite(ctx context.Context, sql string, args []any, msgs ...outbox.Message) error
}

// ErrNoBatch is Tx.ExecWrite's error on a database/sql connection, which sends one
// statement at a time.
var ErrNoBatch = errors.New("database/sql sends one statement per round trip")

// Options tune the connections.
type Options struct {
	// MaxConns bounds the pool; 0 = the driver's default.
	MaxConns int
	// AppName names the connections where the database shows it (PostgreSQL).
	AppName string
}

// Schemes are the URL schemes Open takes, for messages.
const Schemes = "postgres://, mysql:// or sqlite:"

// Open connects to the database at rawURL and returns its outbox store for cfg. It
// checks that the database answers (within 10 s), not that the outbox is migrated.
func Open(ctx context.Context, rawURL string, cfg *outboxstore.Config, opt Options) (*Outbox, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("no database: set --database-url or OUTBOX_DATABASE_URL, e.g. postgres://user@host:5432/db")
	}
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, fmt.Errorf("bad database URL %q: no scheme: use %s", redact(rawURL), Schemes)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return openPostgres(pctx, rawURL, cfg, opt)
	case "mysql", "mariadb":
		return openMySQL(pctx, rawURL, cfg, opt)
	case "sqlite":
		return openSQLite(pctx, rawURL, cfg, opt)
	}
	return nil, fmt.Errorf("bad database URL %q: unknown scheme %q: use %s", redact(rawURL), scheme, Schemes)
}

// redact hides a URL's password in messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func unreachable(what, addr string, err error) error {
	return fmt.Errorf("cannot reach %s at %s: %w (is it running? check --database-url)", what, addr, err)
}
