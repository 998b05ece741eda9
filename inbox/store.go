package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/dialect/mysql"
	"github.com/firstunicorn/outbox/internal/dialect/postgres"
	"github.com/firstunicorn/outbox/internal/dialect/sqlite"
	"github.com/firstunicorn/outbox/internal/sqldb"
	"github.com/firstunicorn/outbox/outboxstore"
)

// DefaultTable is the inbox table's name when Config.Table is empty; its dead letters
// are in inbox_dead.
const DefaultTable = "inbox"

// Config names the inbox's tables, as outboxstore.Config names the outbox's. A nil
// *Config means all defaults.
type Config struct {
	// Schema holds the tables, as outboxstore.Config.Schema: PostgreSQL's schema
	// (default "public"), MySQL's database (default the connection's), empty on SQLite.
	Schema string
	// Table is the inbox table; the dead letters are Table + "_dead". Default
	// DefaultTable. Lower-case letters, digits and '_'.
	Table string
}

// Store is a consumer inbox in a database, through the same drivers as the outbox
// (outboxpgx.New, outboxsql.New): TTx is the transaction type handlers get. NewConsumer
// reads Kafka through it, and Admin is the operator's side. A Store is safe for
// concurrent use.
type Store[TTx any] struct {
	drv sqldb.Driver[TTx]
	a   *Admin
}

// New validates cfg for the driver's database and returns the inbox, as outboxstore.New
// returns the outbox. It connects to nothing; Admin().Migrate creates the tables.
func New[TTx any](drv outboxstore.Driver[TTx], cfg *Config) (*Store[TTx], error) {
	if drv == nil {
		return nil, fmt.Errorf("inbox: new store: %w: pass outboxpgx.New(pool) or outboxsql.New(db, database)", outbox.ErrNoDB)
	}
	impl, ok := drv.(sqldb.Driver[TTx])
	if !ok {
		return nil, fmt.Errorf("inbox: new store: %w: %T is not one of this module's drivers: use outboxpgx.New(pool) or outboxsql.New(db, database)",
			outbox.ErrInvalidConfig, drv)
	}
	if cfg == nil {
		cfg = &Config{}
	}
	db, err := impl.DB()
	if err != nil {
		return nil, fmt.Errorf("inbox: new store: %w", err)
	}
	var in *sqldb.Inbox
	switch drv.Database() {
	case outboxstore.PostgreSQL:
		in, err = postgres.Inbox(cfg.Schema, cfg.Table)
	case outboxstore.MySQL:
		in, err = mysql.Inbox(cfg.Schema, cfg.Table)
	case outboxstore.SQLite:
		in, err = sqlite.Inbox(cfg.Schema, cfg.Table)
	default:
		err = fmt.Errorf("%w: unknown database %q: use outboxstore.PostgreSQL, MySQL or SQLite", outbox.ErrInvalidConfig, drv.Database())
	}
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	return &Store[TTx]{drv: impl, a: &Admin{db: db, sql: in}}, nil
}

// Admin is the operator's side of the inbox: migrations and dead letters.
func (s *Store[TTx]) Admin() *Admin { return s.a }

// begin starts a handler's transaction: tx is what the handler gets, end the same
// transaction as the inbox runs, commits and rolls back.
func (s *Store[TTx]) begin(ctx context.Context) (tx TTx, end sqldb.Tx, err error) {
	if tx, err = s.drv.Begin(ctx); err != nil {
		return tx, nil, err
	}
	end, err = s.drv.Tx(tx)
	return tx, end, err
}

// purgeBatch bounds one purge statement, so it never holds many locks for long.
const purgeBatch = 1000

// purge deletes the records of events handled more than window ago, in batches, and
// returns how many.
func (a *Admin) purge(ctx context.Context, window time.Duration) (int64, error) {
	var total int64
	for {
		n, err := sqldb.Exec(ctx, a.db, a.sql.Queries["purge"], window.Microseconds(), int64(purgeBatch))
		total += n
		if err != nil {
			return total, fmt.Errorf("inbox: purge: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
	}
}
