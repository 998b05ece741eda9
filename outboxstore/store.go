package outboxstore

import (
	"context"
	"fmt"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/mysql"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
	"github.com/firstunicorn/outbox/internal/dialect/sqlite"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay"
)

// Database names the database a Driver talks to.
type Database string

// The databases the store runs on. MySQL covers MariaDB.
const (
	PostgreSQL Database = "postgres"
	MySQL      Database = "mysql"
	SQLite     Database = "sqlite"
)

// DefaultTable is the outbox table's name when Config.Table is empty; its companion
// tables are named after it (outbox_leases, outbox_relays, outbox_migrations, ...).
const DefaultTable = "outbox"

// Driver connects a Store to its database through one Go database driver:
// outboxpgx.New (pgx v5, PostgreSQL) or outboxsql.New (database/sql, any of the three
// databases). Applications only pass it to New; its methods are for the Store, and
// their types are internal: the drivers are this module's.
type Driver[TTx any] interface {
	// Database is the database behind the driver.
	Database() Database
	// DB is the pool the store runs its own statements through.
	DB() (sqldb.DB, error)
	// Tx adapts the caller's transaction, for Write.
	Tx(tx TTx) (sqldb.Querier, error)
	// Begin starts a transaction for a handler (the inbox): tx is what the handler
	// gets, end the same transaction as the store runs, commits and rolls back.
	Begin(ctx context.Context) (tx TTx, end sqldb.Tx, err error)
}

// listenDriver is a Driver that can wait for notifications (outboxpgx).
type listenDriver interface {
	Listen(ctx context.Context, channel string) (sqldb.Listener, error)
}

// Config names the outbox table and bounds what Write accepts. A nil *Config means all
// defaults.
type Config struct {
	// Schema holds the outbox tables. PostgreSQL: a schema, default "public". MySQL: a
	// database, default the connection's own. SQLite: leave it empty.
	Schema string
	// Table is the outbox table; the lease, relay, lock and migration tables are named
	// after it (outbox_leases, ...). Default DefaultTable. Lower-case letters, digits
	// and '_', short enough for the database's longest derived name: 49 characters on
	// PostgreSQL, 53 on MySQL.
	Table string
	// Limits bounds keys, payloads and headers. Zero fields take outbox's defaults.
	Limits outbox.Limits
	// Mode is how events travel from Write to the relay: TableMode (the default) or
	// WALMode (PostgreSQL only).
	Mode Mode
	// Slot and Publication name WAL mode's logical replication slot and publication.
	// Default: the table's name. Same rules as Table, up to 63 characters.
	Slot, Publication string
}

// Store is an outbox in a database: Write adds messages inside the caller's
// transactions, the relay claims and settles them (the relay.Store methods), and the
// operator's methods (Migrate, Check, Status, Dead, Retry, PurgeDead) look after it.
// TTx is the driver's transaction type: pgx.Tx with outboxpgx, *sql.Tx with outboxsql.
// A Store is safe for concurrent use.
type Store[TTx any] struct {
	drv      Driver[TTx]
	db       sqldb.DB
	database Database
	d        dialect
	q        sqldb.Queries
	limits   outbox.Limits
	wal      *postgres.WAL // WAL mode; nil in table mode
}

var _ relay.Store = (*Store[any])(nil)

// New validates cfg for the driver's database and returns a Store. It connects to
// nothing: Check does, and Migrate creates the tables.
func New[TTx any](drv Driver[TTx], cfg *Config) (*Store[TTx], error) {
	if drv == nil {
		return nil, fmt.Errorf("outbox: new store: %w: pass outboxpgx.New(pool) or outboxsql.New(db, database)", outbox.ErrNoDB)
	}
	if cfg == nil {
		cfg = &Config{}
	}
	db, err := drv.DB()
	if err != nil {
		return nil, fmt.Errorf("outbox: new store: %w", err)
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	d, err := newDialect(drv.Database(), cfg)
	if err != nil {
		return nil, err
	}
	q := d.Queries()
	for _, name := range engineQueries {
		if q[name] == nil {
			return nil, fmt.Errorf("outbox: %s dialect lacks query %s", drv.Database(), name)
		}
	}
	wal, err := newWAL(drv.Database(), d, cfg)
	if err != nil {
		return nil, err
	}
	return &Store[TTx]{drv: drv, db: db, database: drv.Database(), d: d, q: q, limits: cfg.Limits.WithDefaults(), wal: wal}, nil
}

// Mode is how the store's events travel to the relay.
func (s *Store[TTx]) Mode() Mode {
	if s.wal != nil {
		return WALMode
	}
	return TableMode
}

// Database is the database the store runs on.
func (s *Store[TTx]) Database() Database { return s.database }

// Table is the outbox table's quoted, qualified name, as the database knows it.
func (s *Store[TTx]) Table() string { return s.d.Names().Qualified }

// dialect is one database's SQL and the parts of the protocol that differ between
// databases (internal/dialect/...).
type dialect interface {
	Names() sqldb.Names
	Queries() sqldb.Queries
	Migrate(ctx context.Context, db sqldb.DB) ([]int, error)
	Check(ctx context.Context, db sqldb.DB) error
	Insert(ctx context.Context, q sqldb.Querier, msgs []outbox.Message) error
	Claim(ctx context.Context, db sqldb.DB, p *relay.ClaimParams) (relay.Batch, error)
}

func newDialect(db Database, cfg *Config) (dialect, error) {
	switch db {
	case PostgreSQL:
		return postgres.New(cfg.Schema, cfg.Table)
	case MySQL:
		if err := mysql.CheckLimits(cfg.Limits); err != nil {
			return nil, err
		}
		return mysql.New(cfg.Schema, cfg.Table)
	case SQLite:
		return sqlite.New(cfg.Schema, cfg.Table)
	}
	return nil, fmt.Errorf("%w: unknown database %q: use outboxstore.PostgreSQL, MySQL or SQLite", outbox.ErrInvalidConfig, db)
}

// engineQueries are the statements every dialect defines with the same arguments and
// results (see internal/dialect/*/queries.sql), which the Store runs as they are.
var engineQueries = []string{
	"heartbeat", "forget", "alive", "renew", "held", "pick", "take", "release", "release_all",
	"purge", "watermark", "status", "backlog", "list_dead", "retry_one", "retry_all", "purge_dead", "version",
}
