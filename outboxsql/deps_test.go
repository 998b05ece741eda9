package outboxsql_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A program on MySQL or SQLite pays only for what it uses: its outbox, relay, inbox,
// metrics and test helpers link neither pgx, nor pgconn, nor pglogrepl. The programs
// are in testdata; a pgx program is the control, which must link them.
func TestDependenciesFollowUse(t *testing.T) {
	t.Parallel()
	pg := []string{"github.com/jackc/pgx/v5", "github.com/jackc/pgx/v5/pgconn", "github.com/jackc/pglogrepl"}
	for _, tc := range []struct {
		program string
		links   bool
	}{{"./testdata/mysqlonly", false}, {"./testdata/sqliteonly", false}, {"../outboxpgx", true}} {
		out, err := exec.Command("go", "list", "-deps", tc.program).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.program, err, out)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, p := range pg {
			if p == "github.com/jackc/pglogrepl" && tc.links {
				continue // outboxpgx links it for WAL mode; pgx and pgconn are the control
			}
			if deps[p] != tc.links {
				t.Errorf("%s links %s: %v, want %v", tc.program, p, deps[p], tc.links)
			}
		}
	}
}
