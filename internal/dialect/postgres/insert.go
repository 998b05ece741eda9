package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

const insertCols = 9

// maxRowsPerInsert keeps one INSERT under PostgreSQL's 65535 bind parameters.
const maxRowsPerInsert = 65535 / insertCols

// Insert writes msgs, already validated, through q: one statement, or more past
// maxRowsPerInsert messages.
func (d *Dialect) Insert(ctx context.Context, q sqldb.Querier, msgs []outbox.Message) error {
	return sqldb.Insert(ctx, q, msgs, maxRowsPerInsert, d.insert)
}

func (d *Dialect) insert(msgs []outbox.Message) (string, []any) {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Names().Qualified)
	b.WriteString(" (id, topic, key, event_type, aggregate_type, aggregate_id, payload, headers, occurred_at) VALUES ")
	args := make([]any, 0, len(msgs)*insertCols)
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(',')
		}
		p := i * insertCols
		b.WriteString("($")
		b.WriteString(strconv.Itoa(p + 1))
		b.WriteString("::uuid")
		for c := 2; c <= insertCols; c++ {
			b.WriteString(",$")
			b.WriteString(strconv.Itoa(p + c))
			if c == 8 {
				b.WriteString("::jsonb")
			}
		}
		b.WriteByte(')')
		args = append(args, m.ID, m.Topic, m.Key, m.Type, m.AggregateType, m.AggregateID,
			sqldb.PayloadArg(m.Payload), sqldb.EncodeHeaders(m.Headers), m.OccurredAt)
	}
	return b.String(), args
}
