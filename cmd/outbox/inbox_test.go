package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func TestInboxCommands(t *testing.T) { testenv.EachDB(t, testInboxCommands) }

func testInboxCommands(t *testing.T, db string) {
	o := testenv.NewOutbox(t, db, outbox.Limits{})
	in := func(args ...string) (int, string) {
		return runCmd(t, append(append([]string{"inbox"}, args...), "--database-url", o.URL, "--schema", o.Schema)...)
	}
	if code, out := in("migrate"); code != 0 || !strings.Contains(out, "applied migrations [1]") {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if code, out := in("migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %d %s", code, out)
	}
	dead := "inbox_dead"
	if o.Schema != "" {
		dead = o.Schema + ".inbox_dead"
	}
	for _, row := range []string{"'g1', 'e1', 'orders', 0, 5, 'boom'", "'g1', 'e2', 'orders', 1, 7, 'bang'", "'g2', 'e3', 'orders', 0, 9, 'pow'"} {
		if err := o.Exec(context.Background(), `INSERT INTO `+dead+` (consumer_group, event_id, topic, kpartition, koffset, error,
			headers, record_time, attempts) VALUES (`+row+`, '[]', 0, 3)`); err != nil {
			t.Fatal(err)
		}
	}
	code, out := in("dead", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("dead --json: %d %s", code, out)
	}
	var first inbox.DeadEvent
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Group != "g1" || first.ID != "e1" ||
		first.Offset != 5 || first.Error != "boom" || first.RetryAsked || first.DeadAt.IsZero() {
		t.Fatalf("dead --json first line %s: %+v %v", lines[0], first, err)
	}
	if code, out := in("dead", "--group", "g2"); code != 0 || !strings.Contains(out, "pow") || strings.Contains(out, "boom") {
		t.Errorf("dead --group g2: %d %s", code, out)
	}
	if code, out := in("retry", "--group", "g1", "--all"); code != 0 || !strings.Contains(out, "asked for 2 dead events") {
		t.Errorf("retry --all: %d %s", code, out)
	}
	if code, out := in("retry", "--group", "g1", "--id", "999"); code != 1 || !strings.Contains(out, "no dead event with id 999") {
		t.Errorf("retry of a missing id: %d %s", code, out)
	}
	if code, out := in("retry", "--group", "g2", "--id", "e3"); code != 0 || !strings.Contains(out, "asked for 1 dead events") {
		t.Errorf("retry --id: %d %s", code, out)
	}
	for _, bad := range [][]string{{"retry", "--all"}, {"retry", "--group", "g1"}, {"purge", "--group", "g1", "--id", "x", "--all"}} {
		if code, out := in(bad...); code != 1 || !strings.Contains(out, "--") {
			t.Errorf("inbox %v: %d %s", bad, code, out)
		}
	}
	if code, out := in("purge", "--group", "g1", "--dead-older-than", "1h"); code != 0 || !strings.Contains(out, "purged 0") {
		t.Errorf("purge --dead-older-than 1h: %d %s", code, out)
	}
	if code, out := in("purge", "--group", "g1", "--id", "e1"); code != 0 || !strings.Contains(out, "purged 1") {
		t.Errorf("purge --id: %d %s", code, out)
	}
	if code, out := in("purge", "--group", "g1", "--all"); code != 0 || !strings.Contains(out, "purged 1") {
		t.Errorf("purge --all: %d %s", code, out)
	}
	if code, out := runCmd(t, "inbox", "nonsense"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Errorf("inbox nonsense: %d %s", code, out)
	}
}
