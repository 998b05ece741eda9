package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

func TestAdminCommands(t *testing.T) { testenv.EachDB(t, testAdminCommands) }

func testAdminCommands(t *testing.T, db string) {
	c := newCluster(t, db)
	ctx := context.Background()
	if err := c.o.Write(ctx, outbox.Message{Topic: "t", Key: []byte("k1")}, outbox.Message{Topic: "t", Key: []byte("k2")},
		outbox.Message{Topic: "t", Key: []byte("k3")}); err != nil {
		t.Fatal(err)
	}
	// Dead-letter two of them as the relay would.
	b, err := testenv.Table(t, c.o.Store).Claim(ctx, &source.ClaimParams{Buckets: allBuckets(), Limit: 10})
	if err != nil || b == nil {
		t.Fatalf("claim: %v %v", b, err)
	}
	var seqs []int64
	for _, r := range b.Records() {
		if string(r.Message.Key) != "k3" {
			seqs = append(seqs, r.Seq)
		}
	}
	if _, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs, Error: "MESSAGE_TOO_LARGE", MaxAttempts: 1, Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	code, out := c.admin("status", "--json")
	var st map[string]float64
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status --json: %d %s", code, out)
	}
	if st["pending"] != 1 || st["in_flight"] != 0 || st["dead"] != 2 || st["oldest_pending_age_seconds"] <= 0 || len(st) != 4 {
		t.Fatalf("status --json = %s", out)
	}
	if code, out := c.admin("migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %d %s", code, out)
	}

	code, out = c.admin("dead", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("dead --json: %d %s", code, out)
	}
	var d outboxstore.DeadEvent
	if err := json.Unmarshal([]byte(lines[0]), &d); err != nil || d.Key != "k1" || !strings.Contains(d.Error, "MESSAGE_TOO_LARGE") || d.Attempts != 1 {
		t.Fatalf("dead event: %+v (%v)", d, err)
	}
	if code, out := c.admin("dead"); code != 0 || !strings.Contains(out, "MESSAGE_TOO_LARGE") || !strings.Contains(out, d.ID) {
		t.Fatalf("dead table: %s", out)
	}

	if code, out := c.admin("retry", "--id", d.ID); code != 0 || !strings.Contains(out, "requeued 1") {
		t.Fatalf("retry --id: %d %s", code, out)
	}
	if code, out := c.admin("retry", "--id", d.ID); code != 1 || !strings.Contains(out, "no dead event") {
		t.Fatalf("retry of an id no longer dead: %d %s", code, out)
	}
	if code, out := c.admin("retry", "--all"); code != 0 || !strings.Contains(out, "requeued 1") {
		t.Fatalf("retry --all: %d %s", code, out)
	}
	if _, out := c.admin("status", "--json"); !strings.Contains(out, `"pending":3,"in_flight":0,"dead":0`) {
		t.Fatalf("after retries: %s", out)
	}
	if code, out := c.admin("purge", "--dead-older-than", "1h"); code != 0 || !strings.Contains(out, "purged 0") {
		t.Fatalf("purge: %d %s", code, out)
	}
	if code, out := c.admin("purge", "--id", d.ID); code != 1 || !strings.Contains(out, "no dead event") {
		t.Fatalf("purge of an id not dead: %d %s", code, out)
	}
	if code, out := c.admin("purge", "--all"); code != 0 || !strings.Contains(out, "purged 0") {
		t.Fatalf("purge --all: %d %s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	db := "--database-url=" + testenv.DatabaseURL()
	// Some cases get past the database's check to the error they test: the outbox in
	// the default schema must be there, as on a machine that ran make demo.
	if code, out := runCmd(t, "migrate", db); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	mdb := "--database-url=" + testenv.URL(t, "mariadb")
	dir := t.TempDir()
	tests := []struct {
		args   []string
		code   int
		wantIn string
	}{
		{nil, 2, "usage: outbox <command>"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"status", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"status", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"status", "--database-url="}, 1, "set --database-url or OUTBOX_DATABASE_URL"},
		{[]string{"status", "--database-url=postgres://u@127.0.0.1:1/db?connect_timeout=2"}, 1, "cannot reach PostgreSQL at 127.0.0.1:1"},
		{[]string{"status", "--database-url=postgres://u@h/db?sslmode=nonsense"}, 1, "bad database URL"},
		{[]string{"status", "--database-url=oracle://u@h/db"}, 1, `unknown scheme "oracle": use postgres://, mysql:// or sqlite:`},
		{[]string{"status", "--database-url=/var/db"}, 1, "no scheme"},
		{[]string{"status", "--database-url=mysql://outbox@127.0.0.1:1/x"}, 1, "cannot reach MySQL at 127.0.0.1:1"},
		{[]string{"status", "--database-url=mysql://outbox@127.0.0.1:1/x?timeout=forever"}, 1, "bad database URL"},
		{[]string{"migrate", mdb, "--table=" + strings.Repeat("t", 54)}, 1, "use 1-53 lower-case letters"},
		{[]string{"status", mdb, "--schema=Bad"}, 1, `Schema "Bad"`},
		{[]string{"status", mdb, "--schema=" + testenv.Name("none")}, 1, "outbox is not migrated"},
		{[]string{"status", "--database-url=sqlite:"}, 1, "no file: use sqlite:/path/to/app.db"},
		{[]string{"status", "--database-url=sqlite:" + dir + "/missing/dir/x.db"}, 1, "cannot open the SQLite database"},
		{[]string{"migrate", "--database-url=sqlite:" + dir + "/x.db", "--schema=main"}, 1, "SQLite has no schemas"},
		{[]string{"migrate", "--database-url=sqlite:" + dir + "/ro.db?_pragma=query_only(1)"}, 1, "the SQLite database is not writable"},
		{[]string{"status", "--database-url=sqlite:" + dir + "/new.db"}, 1, "outbox is not migrated"},
		{[]string{"status", db, "--table=Bad"}, 1, `Table "Bad"`},
		{[]string{"retry", db}, 1, "exactly one of --id ID or --all"},
		{[]string{"retry", db, "--id=x"}, 1, `"x" is not an event id`},
		{[]string{"purge", db}, 1, "exactly one of --id ID, --all or --dead-older-than D"},
		{[]string{"purge", db, "--all", "--dead-older-than=1h"}, 1, "exactly one of"},
		{[]string{"purge", db, "--dead-older-than=-1h"}, 1, "--dead-older-than must be positive"},
		{[]string{"relay", db, "--kafka-brokers="}, 1, "set --kafka-brokers or OUTBOX_KAFKA_BROKERS"},
		{[]string{"relay", db, "--kafka-brokers=localhost"}, 1, `bad Kafka broker "localhost"`},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--poll-interval=-1s"}, 1, "PollInterval is negative"},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--log-level=loud"}, 1, "bad --log-level"},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--max-record-bytes=10"}, 1, "bad --max-record-bytes 10"},
		{[]string{"relay", db, "--kafka-brokers=127.0.0.1:1"}, 1, "cannot reach Kafka at 127.0.0.1:1"},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--metrics-addr=9100"}, 1, `bad --metrics-addr "9100": use host:port or :port`},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--backlog-interval=-1s"}, 1, "bad --backlog-interval"},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--cloudevents-source=/o", "--cloudevents-mode=json"}, 1, `bad --cloudevents-mode "json": use binary or structured`},
		{[]string{"relay", db, "--kafka-brokers=a:1", "--cloudevents-source=%zz"}, 1, `CloudEvents.Source "%zz" is not a URI reference`},
	}
	for _, tt := range tests {
		code, out := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.wantIn) {
			t.Errorf("outbox %v: exit %d, output %q; want exit %d mentioning %q", tt.args, code, out, tt.code, tt.wantIn)
		}
	}
}

func TestEnvConfiguration(t *testing.T) {
	t.Setenv("OUTBOX_BATCH_SIZE", "many")
	if code, out := runCmd(t, "relay"); code != 1 || !strings.Contains(out, `OUTBOX_BATCH_SIZE="many": not a whole number`) {
		t.Fatalf("bad env value: %d %s", code, out)
	}
	t.Setenv("OUTBOX_BATCH_SIZE", "10")
	t.Setenv("OUTBOX_LEASE_TTL", "soon")
	if code, out := runCmd(t, "relay"); code != 1 || !strings.Contains(out, `OUTBOX_LEASE_TTL="soon": not a duration`) {
		t.Fatalf("bad env duration: %d %s", code, out)
	}
	t.Setenv("OUTBOX_LEASE_TTL", "2s")
	t.Setenv("OUTBOX_KAFKA_BROKERS", "a:1")
	// Valid env values pass parsing and validation; the flag on the command line wins.
	if code, out := runCmd(t, "relay", "--lease-ttl=-1s"); code != 1 || !strings.Contains(out, "LeaseTTL is negative") {
		t.Fatalf("flag over env: %d %s", code, out)
	}
}

// Any command line either fails to parse with an error or usage, or gives a relay
// configuration that validates, with brokers and a record limit the client accepts.
func FuzzRelayFlags(f *testing.F) {
	for _, s := range []string{"", "--kafka-brokers=a:1", "--kafka-brokers a:1 --workers 0 --lease-ttl 1s",
		"--kafka-brokers=a:1,b:2 --batch-size=-5", "--kafka-brokers=a:1 --lease-ttl=2s --max-backoff=1ms",
		"--kafka-brokers=[::1]:9092 --max-record-bytes=1024 --log-level=warn --hold-key-on-dead", "x --", "-h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		o, err := parseRelay(strings.Fields(line), io.Discard)
		if err != nil {
			return
		}
		if err := o.cfg.Validate(); err != nil {
			t.Fatalf("%q parsed into an invalid config: %v", line, err)
		}
		if len(o.brokers) == 0 || o.maxRecord < 1024 || o.maxRecord > 1<<30 || o.cfg.Logger == nil {
			t.Fatalf("%q parsed into brokers %q, record limit %d", line, o.brokers, o.maxRecord)
		}
		for _, b := range o.brokers {
			if _, _, err := net.SplitHostPort(b); err != nil {
				t.Fatalf("%q parsed into broker %q: %v", line, b, err)
			}
		}
	})
}

func allBuckets() []int {
	b := make([]int, 64)
	for i := range b {
		b[i] = i
	}
	return b
}
