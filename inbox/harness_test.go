package inbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/twmb/franz-go/pkg/kgo"
	_ "modernc.org/sqlite"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxsql"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// exec runs one statement in the handler's transaction; SQL is written with ? and
// rewritten for PostgreSQL.
type exec func(ctx context.Context, sql string, args ...any) error

// handlerFunc is a handler whatever the driver's transaction type.
type handlerFunc func(ctx context.Context, x exec, m *inbox.Message) error

// harness is one database and driver with an inbox and an "applied" table handlers
// write to: (event_id, k, seq), one row per application of an event.
type harness struct {
	name   string
	schema string // PostgreSQL's, for pgx
	store  *inbox.Admin
	// client is the caller's Kafka client the consumers start from; it lives as long as
	// the test.
	client *kgo.Client
	// consumer makes a consumer of the store calling fn.
	consumer func(t *testing.T, fn handlerFunc, cfg *inbox.ConsumerConfig) runner
	// query scans one integer.
	query func(t *testing.T, sql string, args ...any) int64
	// applied lists the applied table in application order.
	applied func(t *testing.T) []applied
}

type applied struct {
	EventID string
	Key     string
	Seq     int64
}

type runner interface {
	Run(ctx context.Context) error
}

// harnesses are the databases and drivers every behaviour is checked on.
var harnesses = []struct {
	name string
	new  func(t *testing.T) *harness
}{
	{"pgx", newPGX}, {"postgres_sql", newPGSQL}, {"mariadb", newMariaDB}, {"sqlite", newSQLite},
}

func eachHarness(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Parallel()
	for _, hn := range harnesses {
		t.Run(hn.name, func(t *testing.T) {
			t.Parallel()
			test(t, hn.new(t))
		})
	}
}

func dollars(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func newPGX(t *testing.T) *harness {
	pool := testenv.Pool(t)
	schema := testenv.Schema(t, pool)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE `+schema+`.applied (n bigserial PRIMARY KEY, event_id text, k text, seq bigint)`); err != nil {
		t.Fatal(err)
	}
	store := must(inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: schema}))
	h := &harness{name: "pgx", schema: schema, store: store.Admin(), client: testenv.Client(t)}
	h.consumer = func(t *testing.T, fn handlerFunc, cfg *inbox.ConsumerConfig) runner {
		return must(inbox.NewConsumer(store, func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
			return fn(ctx, func(ctx context.Context, q string, args ...any) error {
				_, err := tx.Exec(ctx, dollars(strings.ReplaceAll(q, "applied", schema+".applied")), args...)
				return err
			}, m)
		}, h.client, cfg))
	}
	h.query = func(t *testing.T, q string, args ...any) int64 {
		var n int64
		if err := pool.QueryRow(context.Background(), dollars(strings.ReplaceAll(q, "applied", schema+".applied")), args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	h.applied = func(t *testing.T) []applied {
		rows, err := pool.Query(context.Background(), `SELECT event_id, k, seq FROM `+schema+`.applied ORDER BY n`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		return collect(t, rows)
	}
	migrate(t, store.Admin())
	return h
}

func newPGSQL(t *testing.T) *harness {
	testenv.Pool(t)
	db, err := sql.Open("pgx", testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	schema := testenv.Schema(t, testenv.Pool(t))
	return sqlHarness(t, "postgres_sql", db, outboxstore.PostgreSQL, schema, schema+".applied",
		`CREATE TABLE `+schema+`.applied (n bigserial PRIMARY KEY, event_id text, k text, seq bigint)`, true)
}

func newMariaDB(t *testing.T) *harness {
	db := testenv.MariaDB(t)
	name := testenv.MariaDBDatabase(t)
	return sqlHarness(t, "mariadb", db, outboxstore.MySQL, name, name+".applied",
		`CREATE TABLE `+name+`.applied (n BIGINT AUTO_INCREMENT PRIMARY KEY, event_id VARCHAR(255), k VARCHAR(255), seq BIGINT)`, false)
}

func newSQLite(t *testing.T) *harness {
	path := filepath.Join(t.TempDir(), "inbox.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return sqlHarness(t, "sqlite", db, outboxstore.SQLite, "", "applied",
		`CREATE TABLE applied (n INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT, k TEXT, seq INTEGER)`, false)
}

func sqlHarness(t *testing.T, name string, db *sql.DB, database outboxstore.Database, schema, table, create string, dollar bool) *harness {
	if _, err := db.Exec(create); err != nil {
		t.Fatal(err)
	}
	rewrite := func(q string) string {
		q = strings.ReplaceAll(q, "applied", table)
		if dollar {
			q = dollars(q)
		}
		return q
	}
	store := must(inbox.New(outboxsql.New(db, database), &inbox.Config{Schema: schema}))
	h := &harness{name: name, store: store.Admin(), client: testenv.Client(t)}
	h.consumer = func(t *testing.T, fn handlerFunc, cfg *inbox.ConsumerConfig) runner {
		return must(inbox.NewConsumer(store, func(ctx context.Context, tx *sql.Tx, m *inbox.Message) error {
			return fn(ctx, func(ctx context.Context, q string, args ...any) error {
				_, err := tx.ExecContext(ctx, rewrite(q), args...)
				return err
			}, m)
		}, h.client, cfg))
	}
	h.query = func(t *testing.T, q string, args ...any) int64 {
		var n int64
		if err := db.QueryRow(rewrite(q), args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	h.applied = func(t *testing.T) []applied {
		rows, err := db.Query(rewrite(`SELECT event_id, k, seq FROM applied ORDER BY n`))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		return collect(t, rows)
	}
	migrate(t, store.Admin())
	return h
}

// rowScanner is what pgx.Rows and *sql.Rows share.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func collect(t *testing.T, rows rowScanner) []applied {
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.EventID, &a.Key, &a.Seq); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func migrate(t *testing.T, s *inbox.Admin) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// event is a record as go-outbox's relay sends it: key, value "seq", event id header.
func event(topic, key string, seq int) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: fmt.Appendf(nil, "%d", seq),
		Headers: []kgo.RecordHeader{{Key: outbox.HeaderEventID, Value: []byte(uuid.New().String())}}}
}

// events are n events numbered 1..n on keys k0..k(keys-1), and a second delivery of
// every every-th one.
func events(topic string, n, keys, every int) (recs, dups []*kgo.Record) {
	for i := 1; i <= n; i++ {
		r := event(topic, fmt.Sprintf("k%d", i%keys), i)
		recs = append(recs, r)
		if i%every == 0 {
			d := *r
			dups = append(dups, &d)
		}
	}
	return recs, dups
}

// produce sends recs in order and waits for all, on a client of its own that it closes.
func produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(testenv.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// apply is the handler most tests use: one applied row per event, seq from the value.
func apply(ctx context.Context, x exec, m *inbox.Message) error {
	var seq int64
	fmt.Sscan(string(m.Value), &seq)
	return x(ctx, `INSERT INTO applied (event_id, k, seq) VALUES (?, ?, ?)`, m.ID, string(m.Key), seq)
}

// outcomes counts the hook's outcomes.
type outcomes struct {
	mu sync.Mutex
	n  map[inbox.Outcome]int
}

func (o *outcomes) hook(s inbox.EventStats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[inbox.Outcome]int{}
	}
	o.n[s.Outcome]++
}

func (o *outcomes) get(out inbox.Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[out]
}

// start runs r until the test ends (or stop is called) and fails the test on an error.
func start(t *testing.T, r runner) (stop func()) { return testenv.Start(t, r) }

// waitDetail, when set by a test, is printed after waitFor's timeout.
var waitDetail string

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s%s", timeout, what, waitDetail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// config is a consumer's config for topic with fast retries and hooks into o.
func config(topic string, o *outcomes) *inbox.ConsumerConfig {
	return &inbox.ConsumerConfig{Group: testenv.Name("g"), Topics: []string{topic},
		Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxAttempts: 3,
		RetryInterval: 50 * time.Millisecond, CommitInterval: 200 * time.Millisecond, Hooks: inbox.Hooks{Event: o.hook},
		Logger: slog.New(slog.DiscardHandler)}
}
