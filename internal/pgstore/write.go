package pgstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firstunicorn/outbox"
)

// Stmt is one SQL statement with its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

const insertCols = 9

// maxRowsPerInsert keeps one INSERT under Postgres's 65535 bind parameters.
const maxRowsPerInsert = 65535 / insertCols

// PrepareInsert fills in message defaults, validates every message against lim, and only
// then builds the INSERT statements: either all messages are valid or nothing is written.
// Usually one statement; more only past maxRowsPerInsert messages.
func (n Names) PrepareInsert(msgs []outbox.Message, lim outbox.Limits, now time.Time) ([]Stmt, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	rows := make([]outbox.Message, len(msgs))
	copy(rows, msgs)
	for i := range rows {
		if err := rows[i].Prepare(lim, now); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
	}
	var stmts []Stmt
	for start := 0; start < len(rows); start += maxRowsPerInsert {
		end := min(start+maxRowsPerInsert, len(rows))
		stmts = append(stmts, n.insert(rows[start:end]))
	}
	return stmts, nil
}

func (n Names) insert(msgs []outbox.Message) Stmt {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(n.table)
	b.WriteString(" (id, topic, key, event_type, aggregate_type, aggregate_id, payload, headers, occurred_at) VALUES ")
	args := make([]any, 0, len(msgs)*insertCols)
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(',')
		}
		p := i * insertCols
		b.WriteString("($")
		b.WriteString(strconv.Itoa(p + 1))
		b.WriteString("::text::uuid")
		for c := 2; c <= insertCols; c++ {
			b.WriteString(",$")
			b.WriteString(strconv.Itoa(p + c))
			if c == 8 {
				b.WriteString("::text::jsonb")
			}
		}
		b.WriteByte(')')
		args = append(args, m.ID.String(), m.Topic, m.Key, m.Type, m.AggregateType, m.AggregateID,
			payloadArg(m.Payload), headersJSON(m.Headers), m.OccurredAt)
	}
	return Stmt{SQL: b.String(), Args: args}
}

// payloadArg keeps an empty payload distinct from NULL, which marks a malformed row.
func payloadArg(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

func headersJSON(h map[string]string) string {
	if len(h) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(h) // a map[string]string always encodes
	return string(b)
}
