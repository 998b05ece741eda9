package mysql

import (
	"context"
	"strings"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

const insertCols = 9

// maxRowsPerInsert keeps one INSERT under MySQL's 65535 placeholders of a prepared
// statement; maxInsertBytes keeps it well under the server's max_allowed_packet
// (16 MiB on MariaDB, 64 MiB on MySQL 8, by default).
const (
	maxRowsPerInsert = 65535 / insertCols
	maxInsertBytes   = 8 << 20
)

// timeLayout is how occurred_at travels: UTC, to the microsecond, whatever the
// connection's time zone.
const timeLayout = "2006-01-02 15:04:05.999999"

// Insert writes msgs, already validated, through q: one statement, or more past
// maxRowsPerInsert messages or maxInsertBytes.
func (d *Dialect) Insert(ctx context.Context, q sqldb.Querier, msgs []outbox.Message) error {
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) && n < maxRowsPerInsert && (n == 0 || size+rowSize(&msgs[n]) <= maxInsertBytes) {
			size += rowSize(&msgs[n])
			n++
		}
		sql, args := d.insert(msgs[:n])
		if _, err := q.Exec(ctx, sql, args...); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func rowSize(m *outbox.Message) int {
	n := 128 + len(m.Topic) + len(m.Key) + len(m.Type) + len(m.AggregateType) + len(m.AggregateID) + 2*len(m.Payload)
	for k, v := range m.Headers {
		n += len(k) + len(v) + 6
	}
	return n
}

func (d *Dialect) insert(msgs []outbox.Message) (string, []any) {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Names().Qualified)
	b.WriteString(" (id, topic, `key`, event_type, aggregate_type, aggregate_id, payload, headers, occurred_at) VALUES ")
	args := make([]any, 0, len(msgs)*insertCols)
	for i := range msgs {
		m := &msgs[i]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?)")
		var key any // nil stays NULL: no key
		if m.Key != nil {
			key = m.Key
		}
		args = append(args, m.ID.String(), m.Topic, key, m.Type, m.AggregateType, m.AggregateID,
			sqldb.PayloadArg(m.Payload), sqldb.EncodeHeaders(m.Headers), m.OccurredAt.UTC().Format(timeLayout))
	}
	return b.String(), args
}
