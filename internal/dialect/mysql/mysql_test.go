package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

func TestNames(t *testing.T) {
	t.Parallel()
	d, err := New("", "")
	if err != nil || d.Names().Qualified != "`outbox`" {
		t.Fatalf("defaults: %v, %v", d.Names().Qualified, err)
	}
	d, err = New("app", "events")
	if err != nil || d.Names().Qualified != "`app`.`events`" || d.Names().Vars["locks"] != "`app`.`events_locks`" {
		t.Fatalf("qualified: %+v, %v", d.Names().Vars, err)
	}
	for _, bad := range [][2]string{{"", "Outbox"}, {"", "x`y"}, {"a;b", "outbox"}, {"", strings.Repeat("a", 54)}} {
		if _, err := New(bad[0], bad[1]); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("schema %q table %q accepted: %v", bad[0], bad[1], err)
		}
	}
	if err := CheckLimits(outbox.Limits{MaxKeyBytes: 70000}); !errors.Is(err, outbox.ErrInvalidConfig) {
		t.Errorf("a key limit over 65535 bytes accepted: %v", err)
	}
}

func TestCheckVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		version string
		mariadb bool
		wantErr string
	}{
		{"10.11.19-MariaDB-0+deb12u1", true, ""},
		{"10.6.0-MariaDB", true, ""},
		{"11.4.2-MariaDB-ubu2404", true, ""},
		{"10.5.23-MariaDB", true, "MariaDB 10.5.23 has no SELECT ... SKIP LOCKED"},
		{"8.0.36", false, ""},
		{"8.4.0", false, ""},
		{"8.0.12", false, "MySQL 8.0.12 lacks"},
		{"5.7.44-log", false, "needs MySQL 8.0.13"},
		{"garbage", false, "cannot read the server version"},
	} {
		mariadb, err := checkVersion(tt.version)
		if tt.wantErr == "" && (err != nil || mariadb != tt.mariadb) {
			t.Errorf("checkVersion(%q) = %v, %v; want %v, nil", tt.version, mariadb, err, tt.mariadb)
		}
		if tt.wantErr != "" && (!errors.Is(err, sqldb.ErrUnsupported) || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkVersion(%q) = %v; want ErrUnsupported mentioning %q", tt.version, err, tt.wantErr)
		}
	}
}

// The migration file splits into statements at the semicolons that end a line; comment
// lines go.
func TestStatements(t *testing.T) {
	t.Parallel()
	got := statements("-- a comment;\nCREATE TABLE a (\n\tx INT -- inline\n);\n\nINSERT INTO a VALUES (1);\n-- last\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "CREATE TABLE a (") || got[1] != "INSERT INTO a VALUES (1)" {
		t.Fatalf("statements: %q", got)
	}
	ms, err := sqldb.LoadMigrations(files, "migrations", mustNames(t).Vars)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, s := range statements(m.SQL) {
			if strings.Count(s, ";") > 0 {
				t.Errorf("%s: a statement holds a semicolon: %q", m.Name, s)
			}
		}
	}
}

func mustNames(t *testing.T) sqldb.Names {
	d, err := New("db", "outbox")
	if err != nil {
		t.Fatal(err)
	}
	return d.Names()
}

type recorder struct{ stmts []int }

func (r *recorder) Exec(_ context.Context, _ string, args ...any) (int64, error) {
	r.stmts = append(r.stmts, len(args)/insertCols)
	return 0, nil
}

func (r *recorder) Query(context.Context, string, ...any) (sqldb.Rows, error) { return nil, nil }

// Large payloads split an insert by size, to stay under the server's packet limit; a
// message larger than that alone still goes, alone.
func TestInsertSplitsBySize(t *testing.T) {
	t.Parallel()
	d, _ := New("", "")
	msg := func(size int) outbox.Message {
		return outbox.Message{Topic: "t", Payload: make([]byte, size), OccurredAt: time.Now()}
	}
	for _, tt := range []struct {
		msgs []outbox.Message
		want []int
	}{
		{[]outbox.Message{msg(10), msg(10), msg(10)}, []int{3}},
		{[]outbox.Message{msg(3 << 20), msg(3 << 20), msg(3 << 20)}, []int{1, 1, 1}},
		{[]outbox.Message{msg(20 << 20)}, []int{1}},
		{make([]outbox.Message, maxRowsPerInsert+1), []int{maxRowsPerInsert, 1}},
	} {
		var r recorder
		if err := d.Insert(context.Background(), &r, tt.msgs); err != nil {
			t.Fatal(err)
		}
		if len(r.stmts) != len(tt.want) {
			t.Errorf("%d messages went as statements of %v rows, want %v", len(tt.msgs), r.stmts, tt.want)
			continue
		}
		for i := range tt.want {
			if r.stmts[i] != tt.want[i] {
				t.Errorf("%d messages went as statements of %v rows, want %v", len(tt.msgs), r.stmts, tt.want)
			}
		}
	}
}
