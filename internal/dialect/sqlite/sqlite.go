// Package sqlite is the SQLite dialect of the outbox store: its SQL (queries.sql,
// migrations/) and the parts of the protocol only SQLite needs. SQLite has one writer
// at a time, so a batch must not keep a write transaction open while Kafka publishes
// (every writer of the application would wait on it): a batch holds its buckets by a
// token in the lock table, claimed in one statement, and settles in one short
// transaction that first checks the hold is still its own. Writers compute each row's
// bucket, SQLite having no hash function to do it.
package sqlite

import (
	"embed"
	"fmt"
	"hash/fnv"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

//go:embed queries.sql inbox.sql migrations/*.sql inbox_migrations/*.sql
var files embed.FS

// now is SQLite's clock in Unix microseconds (the 'now' of one statement is one time).
const now = `CAST(unixepoch('subsec') * 1000000 AS INTEGER)`

// Dialect is one SQLite outbox: its names and statements.
type Dialect struct {
	sqldb.SQL
}

// New validates schema (must be empty: SQLite has none) and table (empty = "outbox")
// and loads the statements for them.
func New(schema, table string) (*Dialect, error) {
	n, err := newNames(schema, table)
	if err != nil {
		return nil, err
	}
	s, err := sqldb.LoadSQL(files, n, sqldb.Question, append([]string{"peek", "hold", "keep", "unhold"}, sqldb.ClaimNames...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return &Dialect{s}, nil
}

func newNames(schema, table string) (sqldb.Names, error) {
	if schema != "" {
		return sqldb.Names{}, fmt.Errorf("%w: Schema %q: SQLite has no schemas: leave Schema empty (a file is one database)",
			outbox.ErrInvalidConfig, schema)
	}
	if table == "" {
		table = "outbox"
	}
	if err := sqldb.CheckIdent("Table", table, 63, ""); err != nil {
		return sqldb.Names{}, err
	}
	q := func(name string) string { return `"` + name + `"` }
	return sqldb.Names{Table: table, Qualified: q(table), Vars: sqldb.Vars{
		"table": q(table), "table_name": table, "leases": q(table + "_leases"), "relays": q(table + "_relays"),
		"locks": q(table + "_locks"), "migrations": q(table + "_migrations"),
		"name_id_key": q(table + "_id_key"), "name_claim_idx": q(table + "_claim_idx"),
		"name_blocked_idx": q(table + "_blocked_idx"), "name_dead_idx": q(table + "_dead_idx"),
		"name_published_idx": q(table + "_published_idx"), "name_dead_key_idx": q(table + "_dead_key_idx"), "now": now,
	}}, nil
}

// bucket is the row's bucket: FNV-1a of its key, or of its id when it has none.
func bucket(m *outbox.Message) int64 {
	h := fnv.New32a()
	if m.Key != nil {
		h.Write(m.Key)
	} else {
		h.Write(m.ID[:])
	}
	return int64(h.Sum32() % 64)
}
