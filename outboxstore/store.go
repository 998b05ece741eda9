package outboxstore

import (
	"context"
	"fmt"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/mysql"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
	"github.com/firstunicorn/outbox/internal/dialect/sqlite"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/relay/source"
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

// Driver connects a Store to its database through one Go database driver: outboxpgx.New
// (pgx v5, PostgreSQL) or outboxsql.New (database/sql, any of the three databases).
// Applications pass it to New and to inbox.New; the rest of what a driver does is
// between it and the stores, so only this module's drivers are accepted.
type Driver[TTx any] interface {
	// Database is the database behind the driver.
	Database() Database
	// Begin starts a transaction on the driver's pool, of the type Write takes: the
	// inbox runs each handler in one.
	Begin(ctx context.Context) (TTx, error)
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

// Store is an outbox in a database, as the application holds it: Write adds events
// inside the caller's transactions. TTx is the driver's transaction type: pgx.Tx with
// outboxpgx, *sql.Tx with outboxsql. Admin is the operator's side of the same outbox,
// and relay.New takes the Store itself. A Store is safe for concurrent use.
type Store[TTx any] struct {
	c   *core
	drv sqldb.Driver[TTx]
	a   *Admin
}

// core is one outbox whatever the driver's transaction type: what Admin and the relay's
// side work on.
type core struct {
	drv      any // the driver: sqldb.Notifications or sqldb.Replicator, where it is one
	db       sqldb.DB
	database Database
	d        dialect
	q        sqldb.Queries
	limits   outbox.Limits
	wal      *postgres.WAL // WAL mode; nil in table mode
}

// New validates cfg for the driver's database and returns a Store. It connects to
// nothing: Admin().Check does, and Admin().Migrate creates the tables.
func New[TTx any](drv Driver[TTx], cfg *Config) (*Store[TTx], error) {
	impl, err := open(drv)
	if err != nil {
		return nil, fmt.Errorf("outbox: new store: %w", err)
	}
	if cfg == nil {
		cfg = &Config{}
	}
	db, err := impl.DB()
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
	c := &core{drv: impl, db: db, database: drv.Database(), d: d, q: q, limits: cfg.Limits.WithDefaults(), wal: wal}
	return &Store[TTx]{c: c, drv: impl, a: &Admin{c: c}}, nil
}

// open is the driver's side that only this module's drivers have.
func open[TTx any](drv Driver[TTx]) (sqldb.Driver[TTx], error) {
	if drv == nil {
		return nil, fmt.Errorf("%w: pass outboxpgx.New(pool) or outboxsql.New(db, database)", outbox.ErrNoDB)
	}
	impl, ok := drv.(sqldb.Driver[TTx])
	if !ok {
		return nil, fmt.Errorf("%w: %T is not one of this module's drivers: use outboxpgx.New(pool) or outboxsql.New(db, database)",
			outbox.ErrInvalidConfig, drv)
	}
	return impl, nil
}

// Admin is the operator's side of the store: migrations, checks, counts, dead letters
// and WAL mode's slot.
func (s *Store[TTx]) Admin() *Admin { return s.a }

// RelaySource is the store as a relay reads it, for relay.New: pass the Store itself to
// relay.New rather than calling it. In table mode it is the outbox table, shared by any
// number of relays; in WAL mode the replication slot, which only a store over outboxpgx
// can read.
func (s *Store[TTx]) RelaySource() (source.Outbox, error) {
	if s.c.wal == nil {
		return source.Outbox{Table: table{s.c}}, nil
	}
	st, err := s.c.stream()
	if err != nil {
		return source.Outbox{}, err
	}
	return source.Outbox{Stream: st}, nil
}

// dialect is one database's SQL and the parts of the protocol that differ between
// databases (internal/dialect/...).
type dialect interface {
	Names() sqldb.Names
	Queries() sqldb.Queries
	Migrate(ctx context.Context, db sqldb.DB) ([]int, error)
	Check(ctx context.Context, db sqldb.DB) error
	Insert(ctx context.Context, q sqldb.Querier, msgs []outbox.Message) error
	Claim(ctx context.Context, db sqldb.DB, p *source.ClaimParams) (source.Batch, error)
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
// results (see internal/dialect/*/queries.sql), which the store runs as they are.
var engineQueries = []string{
	"heartbeat", "forget", "alive", "relays", "leases", "renew", "held", "pick", "take", "release", "release_all",
	"purge", "watermark", "status", "backlog", "topics", "list_dead", "list_dead_key", "event", "dead_seq", "retry_all",
	"retry_seqs", "purge_dead", "purge_dead_seqs", "pending", "version",
}
