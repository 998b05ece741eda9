package pgstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
)

func TestNewNames(t *testing.T) {
	t.Parallel()
	n, err := NewNames("", "")
	if err != nil || n.Qualified() != `"public"."outbox"` || n.leases != `"public"."outbox_leases"` {
		t.Fatalf("defaults: %+v, %v", n, err)
	}
	for _, bad := range []string{"Outbox", "out box", `x"y`, "1x", "x;drop", strings.Repeat("a", 50)} {
		if _, err := NewNames("public", bad); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("table %q accepted: %v", bad, err)
		}
	}
}

// FuzzNewNames: whatever it accepts can be quoted without escaping.
func FuzzNewNames(f *testing.F) {
	for _, s := range []string{"outbox", "a_b1", `a"b`, "", "A", "x y", "é"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, schema, table string) {
		n, err := NewNames(schema, table)
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

func TestPrepareInsert(t *testing.T) {
	t.Parallel()
	n, _ := NewNames("", "")
	msgs := make([]outbox.Message, maxRowsPerInsert+1)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "t"}
	}
	stmts, err := n.PrepareInsert(msgs, outbox.Limits{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || len(stmts[0].Args) != maxRowsPerInsert*insertCols || len(stmts[1].Args) != insertCols {
		t.Fatalf("%d statements for %d messages", len(stmts), len(msgs))
	}
	if msgs[0].ID != [16]byte{} {
		t.Fatal("PrepareInsert must not change the caller's messages")
	}
	if _, err := n.PrepareInsert([]outbox.Message{{Topic: "t"}, {}}, outbox.Limits{}, time.Now()); err == nil ||
		!strings.Contains(err.Error(), "message 1") {
		t.Fatalf("the bad message must be named: %v", err)
	}
}
