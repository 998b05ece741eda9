package sqldb

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/firstunicorn/outbox"
)

// SQL is what every dialect has for one outbox: its names, its statements loaded from
// the dialect's queries.sql, and the marks that settle a batch.
type SQL struct {
	names Names
	q     Queries
	Marks Marks
}

// LoadSQL loads fsys's queries.sql for names, in style, and checks that it defines the
// statements every dialect shares (the marks among them) and those of required.
func LoadSQL(fsys fs.FS, names Names, style Style, required ...string) (SQL, error) {
	b, err := fs.ReadFile(fsys, "queries.sql")
	if err != nil {
		return SQL{}, err
	}
	q, err := LoadQueries(string(b), names.Vars, style, append(required, MarkNames...)...)
	if err != nil {
		return SQL{}, fmt.Errorf("queries.sql: %w", err)
	}
	return SQL{names: names, q: q, Marks: MarksOf(q)}, nil
}

// Names returns the outbox's names.
func (s SQL) Names() Names { return s.names }

// Queries returns the outbox's statements.
func (s SQL) Queries() Queries { return s.q }

// Claimable runs the dialect's peek ($1 buckets): whether a claim could find anything.
// It reads the claim index alone, so an idle worker costs one round trip instead of a
// transaction's several; a busy one (its last claim found events) skips it.
func (s SQL) Claimable(ctx context.Context, db Querier, buckets Int64s, busy bool) (bool, error) {
	if busy {
		return true, nil
	}
	var claimable bool
	sql, args := s.q["peek"].Bind(buckets)
	err := ScanRow(ctx, db, sql, append([]any{Replan{}}, args...), &claimable)
	return claimable, err
}

// Insert writes msgs through q in statements of at most maxRows messages each: one,
// unless there are very many. build makes one statement.
func Insert(ctx context.Context, q Querier, msgs []outbox.Message, maxRows int,
	build func([]outbox.Message) (string, []any)) error {
	for start := 0; start < len(msgs); start += maxRows {
		sql, args := build(msgs[start:min(start+maxRows, len(msgs))])
		if _, err := q.Exec(ctx, sql, args...); err != nil {
			return err
		}
	}
	return nil
}
