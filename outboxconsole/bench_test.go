package outboxconsole_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Sizes of the outbox BenchmarkPages reads: what the console must stay fast on.
const (
	benchPending = 1_000_000
	benchDead    = 100_000
)

// fill writes benchPending pending and benchDead dead events straight into the table,
// interleaved (one dead in eleven), over 10,000 keys; the dead ones say "timeout" one
// time in a hundred and "unknown topic" otherwise.
var fill = map[string]string{
	"postgres": `INSERT INTO %[1]s (id, topic, key, event_type, payload, status, attempts, last_error, dead_at)
		SELECT gen_random_uuid(), 'orders', convert_to('k-' || (i %% 10000), 'UTF8'), 'order.created', '\x7b7d',
			CASE WHEN i %% 11 = 0 THEN 'dead' ELSE 'pending' END, CASE WHEN i %% 11 = 0 THEN 1 ELSE 0 END,
			CASE WHEN i %% 11 <> 0 THEN NULL WHEN i %% 1100 = 0 THEN 'timeout' ELSE 'UNKNOWN_TOPIC_OR_PARTITION' END,
			CASE WHEN i %% 11 = 0 THEN now() END
		FROM generate_series(1, %[2]d) i`,
	"mariadb": `INSERT INTO %[1]s (id, topic, ` + "`key`" + `, event_type, payload, occurred_at, status, attempts, last_error, dead_at)
		SELECT UUID(), 'orders', CONCAT('k-', seq %% 10000), 'order.created', '{}', UTC_TIMESTAMP(6),
			IF(seq %% 11 = 0, 'dead', 'pending'), IF(seq %% 11 = 0, 1, 0),
			CASE WHEN seq %% 11 <> 0 THEN NULL WHEN seq %% 1100 = 0 THEN 'timeout' ELSE 'UNKNOWN_TOPIC_OR_PARTITION' END,
			IF(seq %% 11 = 0, UTC_TIMESTAMP(6), NULL)
		FROM seq_1_to_%[2]d`,
	"sqlite": `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %[2]d)
		INSERT INTO %[1]s (id, topic, key, bucket, event_type, payload, occurred_at, status, attempts, last_error, dead_at)
		SELECT printf('%%08x-0000-4000-8000-%%012x', i, i), 'orders', CAST('k-' || (i %% 10000) AS BLOB), (i %% 10000) %% 64,
			'order.created', X'7b7d', 0, CASE WHEN i %% 11 = 0 THEN 'dead' ELSE 'pending' END, CASE WHEN i %% 11 = 0 THEN 1 ELSE 0 END,
			CASE WHEN i %% 11 <> 0 THEN NULL WHEN i %% 1100 = 0 THEN 'timeout' ELSE 'UNKNOWN_TOPIC_OR_PARTITION' END,
			CASE WHEN i %% 11 = 0 THEN CAST(unixepoch('subsec') * 1e6 AS INTEGER) END
		FROM s`,
}

// BenchmarkPages times the console's pages over an outbox of 1,000,000 pending and
// 100,000 dead events on each database: each page is fetched 100 times (b.N times
// that), and p50 and p99 of the server's answer time are reported. Targets: p99 at
// most 200 ms for the lists and filters, 300 ms for the overview.
//
//	go test -run XXX -bench Pages -benchtime 1x -timeout 30m ./outboxconsole
func BenchmarkPages(b *testing.B) {
	for _, db := range testenv.Databases {
		b.Run(db, func(b *testing.B) {
			o := testenv.NewOutbox(b, db, outbox.Limits{})
			start := time.Now()
			if err := o.Exec(context.Background(), fmt.Sprintf(fill[db], o.Store.Admin().Table(), benchPending+benchDead)); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d rows written in %s", db, benchPending+benchDead, time.Since(start).Round(time.Second))
			s := &site{Outbox: o, audit: &syncBuffer{}}
			h, err := outboxconsole.New(outboxconsole.Config{Outbox: o.Store.Admin(), InsecureNoAuth: true})
			if err != nil {
				b.Fatal(err)
			}
			s.URL = serve(b, h)
			deep := lastPageCursor(b, s.URL)
			for _, p := range []struct{ name, path string }{
				{"overview", "/"},
				{"dead", "/dead"},
				{"dead-last-page", "/dead?after=" + deep},
				{"filter-key", "/dead?key=k-4242"},
				{"filter-error", "/dead?error=TIMEOUT"},
				{"filter-topic-type", "/dead?topic=orders&type=order.created"},
				{"filter-time", "/dead?since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z"},
				{"relays", "/relays"},
				{"topics", "/topics"},
			} {
				b.Run(p.name, func(b *testing.B) { timePage(b, s.URL+p.path) })
			}
		})
	}
}

func timePage(b *testing.B, url string) {
	var times []time.Duration
	for b.Loop() {
		for range 100 {
			start := time.Now()
			resp, err := http.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %s", url, resp.Status)
			}
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

// lastPageCursor pages through the API to a page deep in the dead letters and
// returns its cursor.
func lastPageCursor(b *testing.B, base string) string {
	after := ""
	for range benchDead / 1000 * 9 / 10 {
		resp, err := http.Get(base + "/api/v1/dead?limit=1000&after=" + after)
		if err != nil {
			b.Fatal(err)
		}
		var p struct{ Next string }
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || p.Next == "" {
			b.Fatalf("paging: %v, next %q", err, p.Next)
		}
		after = p.Next
	}
	return strings.TrimSpace(after)
}
