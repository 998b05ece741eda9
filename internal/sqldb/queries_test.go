package sqldb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox"
)

const file = `-- The statements of a test dialect.

-- name: one
-- A comment line, dropped.
SELECT a FROM {{table}} WHERE b = $1 AND c IN ($2) AND d = $1;

-- name: two
UPDATE {{table}} SET x = 1
`

func TestLoadQueries(t *testing.T) {
	t.Parallel()
	q, err := LoadQueries(file, Vars{"table": `"t"`}, Dollar, "one", "two")
	if err != nil {
		t.Fatal(err)
	}
	if got := q["one"].sql; got != `SELECT a FROM "t" WHERE b = $1 AND c IN ($2) AND d = $1` {
		t.Fatalf("one = %q", got)
	}
	if got := q["two"].sql; got != `UPDATE "t" SET x = 1` {
		t.Fatalf("two = %q", got)
	}
	for _, tt := range []struct {
		file, want string
	}{
		{file, "query three is missing"},
		{"-- name: a\nSELECT {{nope}}", "unknown placeholder {{nope}}"},
		{"-- name: a\nSELECT 1\n-- name: a\nSELECT 2", "defined twice"},
	} {
		if _, err := LoadQueries(tt.file, Vars{"table": "t"}, Question, "three"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadQueries(%q): %v, want %q", tt.file, err, tt.want)
		}
	}
}

func TestBind(t *testing.T) {
	t.Parallel()
	q, err := LoadQueries(file, Vars{"table": "t"}, Question)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []any
		wantSQL  string
		wantArgs []any
	}{
		{[]any{"x", Int64s{1, 2, 3}}, `SELECT a FROM t WHERE b = ? AND c IN (?,?,?) AND d = ?`, []any{"x", int64(1), int64(2), int64(3), "x"}},
		{[]any{"x", Int64s{}}, `SELECT a FROM t WHERE b = ? AND c IN (NULL) AND d = ?`, []any{"x", "x"}},
		{[]any{7, "y"}, `SELECT a FROM t WHERE b = ? AND c IN (?) AND d = ?`, []any{7, "y", 7}},
		{[]any{"x", Keys{[]byte("k1"), []byte("k2")}}, `SELECT a FROM t WHERE b = ? AND c IN (?,?) AND d = ?`, []any{"x", "k1", "k2", "x"}},
	}
	for _, tt := range tests {
		sql, args := q["one"].Bind(tt.args...)
		for i, a := range args { // keys compare as strings
			if b, ok := a.([]byte); ok {
				args[i] = string(b)
			}
		}
		if sql != tt.wantSQL || !slices.Equal(args, tt.wantArgs) {
			t.Errorf("Bind(%v) = %q %v, want %q %v", tt.args, sql, args, tt.wantSQL, tt.wantArgs)
		}
	}
	d, _ := LoadQueries(file, Vars{"table": "t"}, Dollar)
	if sql, args := d["one"].Bind("x", Int64s{1}); !strings.Contains(sql, "$2") || len(args) != 2 {
		t.Errorf("Dollar style must pass statements and arguments through: %q %v", sql, args)
	}
}

func TestInt64sValue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   Int64s
		want string
	}{{nil, "{}"}, {Int64s{5}, "{5}"}, {Int64s{1, -2, 3}, "{1,-2,3}"}} {
		if v, _ := tt.in.Value(); v != tt.want {
			t.Errorf("%v.Value() = %v, want %s", tt.in, v, tt.want)
		}
	}
}

// recorder records the arguments of each statement and sends nothing.
type recorder struct{ stmts []int }

func (r *recorder) Exec(_ context.Context, _ string, args ...any) (int64, error) {
	r.stmts = append(r.stmts, len(args))
	return 0, nil
}

func (r *recorder) Query(context.Context, string, ...any) (Rows, error) { return nil, nil }

// Insert splits the messages into statements of at most maxRows messages.
func TestInsertSplits(t *testing.T) {
	t.Parallel()
	build := func(ms []outbox.Message) (string, []any) { return "INSERT", make([]any, len(ms)) }
	for _, tt := range []struct {
		n, max int
		want   []int
	}{{0, 10, nil}, {1, 10, []int{1}}, {10, 10, []int{10}}, {11, 10, []int{10, 1}}, {25, 10, []int{10, 10, 5}}} {
		var r recorder
		if err := Insert(context.Background(), &r, make([]outbox.Message, tt.n), tt.max, build); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.stmts, tt.want) {
			t.Errorf("%d messages, at most %d a statement: %v, want %v", tt.n, tt.max, r.stmts, tt.want)
		}
	}
}
