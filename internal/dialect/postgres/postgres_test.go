package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
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

// A full statement of Insert stays within PostgreSQL's 65535 bound parameters.
func TestInsertWithinParameterLimit(t *testing.T) {
	t.Parallel()
	d, _ := New("", "")
	msgs := make([]outbox.Message, maxRowsPerInsert)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "t", OccurredAt: time.Now()}
	}
	if _, args := d.insert(msgs); len(args) > 65535 || len(args) != maxRowsPerInsert*insertCols {
		t.Fatalf("%d messages take %d parameters", len(msgs), len(args))
	}
}
