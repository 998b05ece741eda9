// Package postgres is the PostgreSQL dialect of the outbox store: its SQL (queries.sql,
// migrations/) and the parts of the protocol only PostgreSQL has: a batch holds its
// buckets with transaction-scoped advisory locks, the server ends a batch whose relay
// froze (idle_in_transaction_session_timeout), and inserts NOTIFY waiting relays.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

//go:embed queries.sql wal.sql inbox.sql migrations/*.sql inbox_migrations/*.sql
var files embed.FS

// Dialect is one PostgreSQL outbox: its names and statements.
type Dialect struct {
	sqldb.SQL
}

// New validates schema and table (empty = "public" and "outbox") and loads the
// statements for them.
func New(schema, table string) (*Dialect, error) {
	n, err := newNames(schema, table)
	if err != nil {
		return nil, err
	}
	s, err := sqldb.LoadSQL(files, n, sqldb.Dollar, "peek", "lock", "claim")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Dialect{s}, nil
}

func newNames(schema, table string) (sqldb.Names, error) {
	if schema == "" {
		schema = "public"
	}
	if table == "" {
		table = "outbox"
	}
	if err := sqldb.CheckIdent("Schema", schema, 63, ""); err != nil {
		return sqldb.Names{}, err
	}
	// The longest derived name is table + "_published_idx" (14 more); PostgreSQL keeps 63.
	if err := sqldb.CheckIdent("Table", table, 49, " (PostgreSQL keeps 63 characters, and index names add 14)"); err != nil {
		return sqldb.Names{}, err
	}
	q := func(name string) string { return `"` + schema + `"."` + name + `"` }
	quote := func(ident string) string { return `"` + ident + `"` }
	h := fnv.New32a()
	h.Write([]byte(q(table)))
	sum := h.Sum32()
	tag := fmt.Sprintf("outbox-batch:%08x", sum)
	return sqldb.Names{Schema: schema, Table: table, Qualified: q(table), Vars: sqldb.Vars{
		"schema": quote(schema), "table": q(table), "leases": q(table + "_leases"), "relays": q(table + "_relays"),
		"migrations": q(table + "_migrations"), "wal_slots": q(table + "_wal_slots"),
		"name_id_key": quote(table + "_id_key"), "name_claim_idx": quote(table + "_claim_idx"),
		"name_blocked_idx": quote(table + "_blocked_idx"), "name_dead_idx": quote(table + "_dead_idx"),
		"name_published_idx": quote(table + "_published_idx"),
		"notify_fn":          `"` + schema + `".` + quote(table+"_notify"), "notify_trigger": quote(table + "_notify"),
		// The advisory-lock class of this outbox's bucket locks, the channel its inserts
		// are announced on, and the application_name prefix of its open batches.
		"lock_class": fmt.Sprint(int32(sum)), "channel": tag, "batch_tag": tag + ":",
	}}, nil
}

// Channel is the LISTEN/NOTIFY channel on which inserts into this outbox are announced.
func (d *Dialect) Channel() string { return d.Names().Vars["channel"] }

// Migrate brings the schema to the latest version in one transaction; an advisory lock
// serialises concurrent migrators.
func (d *Dialect) Migrate(ctx context.Context, db sqldb.DB) ([]int, error) {
	return migrate(ctx, db, "migrations", d.Names().Vars)
}

// migrate applies dir's migrations for the tables vars name.
func migrate(ctx context.Context, db sqldb.DB, dir string, v sqldb.Vars) ([]int, error) {
	if err := check(ctx, db); err != nil {
		return nil, err
	}
	ms, err := sqldb.LoadMigrations(files, dir, v)
	if err != nil {
		return nil, err
	}
	return sqldb.MigrateInTx(ctx, db, v["migrations"], ms,
		fmt.Sprintf(`SELECT pg_advisory_xact_lock(hashtext('%s'))`, v["table"]),
		`CREATE SCHEMA IF NOT EXISTS `+v["schema"],
		`CREATE TABLE IF NOT EXISTS `+v["migrations"]+` (
			version    int         PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`)
}

// Check refuses a server older than PostgreSQL 12, which lacks generated columns.
func (d *Dialect) Check(ctx context.Context, db sqldb.DB) error { return check(ctx, db) }

func check(ctx context.Context, db sqldb.DB) error {
	var version int64
	if err := sqldb.ScanRow(ctx, db, `SELECT current_setting('server_version_num')::int`, nil, &version); err != nil {
		return err
	}
	if version < 120000 {
		return fmt.Errorf("%w: PostgreSQL %d.%d has no generated columns: go-outbox needs PostgreSQL 12 or later",
			sqldb.ErrUnsupported, version/10000, version%10000)
	}
	return nil
}
