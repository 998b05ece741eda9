package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

func TestNames(t *testing.T) {
	t.Parallel()
	d, err := New("", "")
	if err != nil || d.Names().Qualified != `"public"."outbox"` || d.Names().Vars["leases"] != `"public"."outbox_leases"` {
		t.Fatalf("defaults: %+v, %v", d, err)
	}
	for _, bad := range []string{"Outbox", "out box", `x"y`, "1x", "x;drop", strings.Repeat("a", 50)} {
		if _, err := New("public", bad); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("table %q accepted: %v", bad, err)
		}
	}
}

// FuzzNames: whatever it accepts can be quoted without escaping.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"outbox", "a_b1", `a"b`, "", "A", "x y", "é"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, schema, table string) {
		n, err := newNames(schema, table)
		if err != nil {
			return
		}
		for _, s := range []string{n.Schema, n.Table} {
			if strings.ContainsAny(s, "\"'; \\\x00") || strings.ToLower(s) != s || len(s) > 63 {
				t.Fatalf("accepted unsafe identifier %q", s)
			}
		}
	})
}

// countingQuerier counts statements and their arguments, and sends nothing.
type countingQuerier struct{ stmts, args []int }

func (c *countingQuerier) Exec(_ context.Context, _ string, args ...any) (int64, error) {
	c.stmts = append(c.stmts, len(args))
	return 0, nil
}

func (c *countingQuerier) Query(context.Context, string, ...any) (sqldb.Rows, error) {
	return nil, errors.New("not here")
}

// Past PostgreSQL's 65535 bind parameters, Insert splits the messages over statements.
func TestInsertSplits(t *testing.T) {
	t.Parallel()
	d, _ := New("", "")
	msgs := make([]outbox.Message, maxRowsPerInsert+1)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "t", OccurredAt: time.Now()}
	}
	var q countingQuerier
	if err := d.Insert(context.Background(), &q, msgs); err != nil {
		t.Fatal(err)
	}
	if len(q.stmts) != 2 || q.stmts[0] != maxRowsPerInsert*insertCols || q.stmts[1] != insertCols {
		t.Fatalf("%d messages went as statements of %v arguments", len(msgs), q.stmts)
	}
}

// BenchmarkInsert measures building the INSERT of 100 events: the CPU a Write adds to
// the caller's transaction before its one round trip.
func BenchmarkInsert(b *testing.B) {
	d, _ := New("", "")
	msgs := make([]outbox.Message, 100)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i), Payload: make([]byte, 1024),
			Headers: map[string]string{"traceparent": "00-abc-def-01"}, OccurredAt: time.Now()}
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.insert(msgs)
	}
}
