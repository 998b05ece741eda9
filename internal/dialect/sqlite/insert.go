package sqlite

import (
	"context"
	"strings"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

const insertCols = 10

// maxRowsPerInsert keeps one INSERT under SQLite's 32766 bound parameters.
const maxRowsPerInsert = 32766 / insertCols

// Insert writes msgs, already validated, through q: one statement, or more past
// maxRowsPerInsert messages.
func (d *Dialect) Insert(ctx context.Context, q sqldb.Querier, msgs []outbox.Message) error {
	return sqldb.Insert(ctx, q, msgs, maxRowsPerInsert, d.insert)
}

func (d *Dialect) insert(msgs []outbox.Message) (string, []any) {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Names().Qualified)
	b.WriteString(" (id, topic, key, bucket, event_type, aggregate_type, aggregate_id, payload, headers, occurred_at) VALUES ")
	args := make([]any, 0, len(msgs)*insertCols)
	for i := range msgs {
		m := &msgs[i]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
		var key any // nil stays NULL: no key
		if m.Key != nil {
			key = m.Key
		}
		args = append(args, m.ID.String(), m.Topic, key, bucket(m), m.Type, m.AggregateType, m.AggregateID,
			sqldb.PayloadArg(m.Payload), sqldb.EncodeHeaders(m.Headers), m.OccurredAt.UnixMicro())
	}
	return b.String(), args
}
