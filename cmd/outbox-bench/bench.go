// Command outbox-bench measures go-outbox against the physical limits of the database
// (PostgreSQL, MySQL/MariaDB or SQLite) and Kafka it runs on, starting `outbox relay`
// processes as a deployment would. Every figure of a run is taken on
// the same machine in the same run, so the ratios between them hold on a noisy machine,
// and every scenario that relays events checks afterwards that none was lost or
// reordered: a fast run that lost an event is a failure, not a result.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxstore"
)

// Config selects what to run and how big. Zero fields take the defaults given.
type Config struct {
	DatabaseURL string
	Brokers     []string
	// PayloadBytes is each event's payload size. Default 1024.
	PayloadBytes int
	// Keys is the number of distinct keys. Default 10,000.
	Keys int
	// LimitEvents is the size of the limit measurements (a) and (b). Default 200,000.
	LimitEvents int
	// DrainEvents is the backlog the drain scenarios relay. Default 1,000,000.
	DrainEvents int
	// DrainRounds is how often each variant of a comparing drain runs (exactly_once,
	// formats), side by side in rotating order, each row the median. Default 3: a drain
	// of the same backlog varied by up to 3x from one run to the next here (PostgreSQL's
	// checkpoints and vacuum land on one run or another), more than the differences
	// measured.
	DrainRounds int
	// Writers is the number of writer connections. Default 8.
	Writers int
	// Duration is how long each timed write scenario runs. Default 5s.
	Duration time.Duration
	// Rates are the sustained end-to-end rates, events/s. Default 1000, 5000, 10000, 20000.
	Rates []int
	// Scale are the relay counts of the scale-out scenario. Default 1, 2, 4.
	Scale []int
	// OutboxBin is the outbox command the relay processes run.
	OutboxBin string
	// RelayArgs are extra flags for every relay process.
	RelayArgs []string
	// ProxiedListener is Kafka's listener that advertises ProxyAddr, where the remote
	// scenario puts a proxy that delays every byte by RemoteDelay each way (a broker in
	// another zone). Defaults: the services script's 127.0.0.1:59094 and :59095, 5ms.
	ProxiedListener, ProxyAddr string
	RemoteDelay                time.Duration
	// SchemaRegistryURL is a registry's Confluent API, for the formats scenario's Avro,
	// Protobuf and JSON Schema rows; empty: those rows are left out.
	SchemaRegistryURL string
	// Only runs just the named scenarios (limits, drain, overhead, latency, steady,
	// scale, remote, observability, exactly_once, formats); empty = all.
	Only []string
	// Modes are the store modes measured, one after the other in the same run: "table"
	// (default) and "wal" (PostgreSQL; drain, overhead and latency, as rows "wal.…").
	Modes  []string
	Logger *slog.Logger
}

func (c *Config) defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.PayloadBytes, 1024)
	def(&c.Keys, 10_000)
	def(&c.LimitEvents, 200_000)
	def(&c.DrainEvents, 1_000_000)
	def(&c.DrainRounds, 3)
	def(&c.Writers, 8)
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Rates == nil {
		c.Rates = []int{1000, 5000, 10000, 20000}
	}
	if c.Scale == nil {
		c.Scale = []int{1, 2, 4}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Modes == nil {
		c.Modes = []string{string(outboxstore.TableMode)}
	}
	if c.ProxiedListener == "" {
		c.ProxiedListener = "127.0.0.1:59094"
	}
	if c.ProxyAddr == "" {
		c.ProxyAddr = "127.0.0.1:59095"
	}
	if c.RemoteDelay == 0 {
		c.RemoteDelay = 5 * time.Millisecond
	}
}

// Row is one measured figure.
type Row struct {
	Scenario string  `json:"scenario"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Note     string  `json:"note,omitempty"`
}

// Report is a whole run.
type Report struct {
	Database string `json:"database"`
	Rows     []Row  `json:"rows"`
	Failed   string `json:"failed,omitempty"` // set when a check failed: the figures are void
}

func (r *Report) add(scenario string, v float64, unit, note string, args ...any) {
	r.Rows = append(r.Rows, Row{Scenario: scenario, Value: v, Unit: unit, Note: fmt.Sprintf(note, args...)})
}

func (r *Report) value(scenario string) float64 {
	for _, row := range r.Rows {
		if row.Scenario == scenario {
			return row.Value
		}
	}
	return 0
}

// env is the run's outbox (its own schema, database or file) and connections.
type env struct {
	cfg    Config
	db     *dburl.Outbox // the current scenario's outbox, fresh from resetSchema
	client *kgo.Client   // producer with the relay's settings
	log    *slog.Logger
	// relayEnv and extraRelayArgs are added to the relay processes' environment and
	// command line (the observability scenario's variants).
	relayEnv, extraRelayArgs []string
	mode                     outboxstore.Mode // of the pass under way
	url                      string           // the current scenario's database URL
	resets                   int              // outboxes made so far (SQLite: a file each)
	walMark                  string           // WAL mode: the LSN prefill's events end before
	readCommitted            bool             // the latency consumer reads read_committed
	codec                    *payloadCodec    // prefill's encoding of the payloads; nil: raw
}

// benchSchema is where the bench's outbox lives: a schema on PostgreSQL, a database on
// MySQL; on SQLite the URL's file is the bench's own.
const benchSchema = "outbox_bench"

// Run runs the scenarios and returns their figures. It returns an error for a failed
// check (events lost or reordered) along with the report so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	e := &env{cfg: cfg, log: cfg.Logger}
	if err := e.resetSchema(ctx); err != nil {
		return nil, err
	}
	defer e.close()
	var err error
	e.client, err = kgo.NewClient(append(outboxkafka.ProducerOpts(), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return nil, err
	}
	rep := &Report{Database: string(e.db.Admin.Database())}
	for _, mode := range cfg.Modes {
		e.mode = outboxstore.Mode(mode)
		if err := e.pass(ctx, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// walScenarios are those that apply to WAL mode: one slot has one reader, so there is
// no scale-out, and the limits are the table mode's (Kafka's is shared).
var walScenarios = []string{"drain", "overhead", "latency", "steady", "exactly_once", "formats"}

// pass runs the selected scenarios in e.mode; WAL mode's rows are named "wal.…".
func (e *env) pass(ctx context.Context, rep *Report) error {
	for _, s := range []struct {
		name string
		fn   func(context.Context, *Report) error
	}{
		{"limits", e.limits},
		{"drain", e.drainScenario},
		{"overhead", e.overhead},
		{"latency", e.latency},
		{"steady", e.steady},
		{"scale", e.scale},
		{"remote", e.remote},
		{"observability", e.observability},
		{"exactly_once", e.exactlyOnce},
		{"formats", e.formats},
	} {
		if !selected(e.cfg.Only, s.name) || e.mode == outboxstore.WALMode && !selected(walScenarios, s.name) {
			continue
		}
		e.log.Info("bench scenario", "name", s.name, "mode", e.mode)
		first := len(rep.Rows)
		err := s.fn(ctx, rep)
		if e.mode == outboxstore.WALMode {
			for i := first; i < len(rep.Rows); i++ {
				rep.Rows[i].Scenario = "wal." + rep.Rows[i].Scenario
			}
		}
		if err != nil {
			rep.Failed = fmt.Sprintf("%s (%s mode): %v", s.name, e.mode, err)
			return fmt.Errorf("bench %s (%s mode): %w", s.name, e.mode, err)
		}
	}
	return nil
}

func selected(only []string, name string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == name {
			return true
		}
	}
	return false
}

func (e *env) close() {
	if e.client != nil {
		e.client.Close()
	}
	_ = e.dropOutbox(context.Background())
}

// resetSchema gives the next scenario an empty, freshly migrated outbox.
func (e *env) resetSchema(ctx context.Context) error {
	if err := e.dropOutbox(ctx); err != nil {
		return err
	}
	cfg := &outboxstore.Config{Limits: bigLimits}
	if !strings.HasPrefix(e.cfg.DatabaseURL, "sqlite:") {
		cfg.Schema = benchSchema
	}
	if e.mode == outboxstore.WALMode {
		cfg.Mode, cfg.Slot, cfg.Publication = outboxstore.WALMode, benchSchema, benchSchema
	}
	e.url, e.resets = freshURL(e.cfg.DatabaseURL, e.resets), e.resets+1
	db, err := dburl.Open(ctx, e.url, cfg, dburl.Options{MaxConns: max(e.cfg.Writers+4, 8)})
	if err != nil {
		return err
	}
	e.db = db
	_, err = db.Admin.Migrate(ctx)
	return err
}

// freshURL is url for the n-th outbox of the run. On SQLite each outbox gets a file of
// its own (app.db, app-1.db, ...): a connection of the previous scenario that is still
// closing (a writer stopped mid-transaction at the end of a timed scenario) deletes its
// WAL file by name when it goes, which would be the next scenario's if the path were
// the same (seen as "disk I/O error (522)").
func freshURL(url string, n int) string {
	if !strings.HasPrefix(url, "sqlite:") || n == 0 {
		return url
	}
	path, query, _ := strings.Cut(url, "?")
	ext := filepath.Ext(path)
	path = strings.TrimSuffix(path, ext) + fmt.Sprintf("-%d", n) + ext
	if query != "" {
		return path + "?" + query
	}
	return path
}

// dropOutbox removes the bench's outbox and closes its connections.
func (e *env) dropOutbox(ctx context.Context) error {
	if e.db == nil {
		return nil
	}
	defer func() { e.db = nil }()
	var err error
	switch e.db.Admin.Database() {
	case outboxstore.PostgreSQL:
		err = errors.Join(e.db.Exec(ctx, `DROP SCHEMA IF EXISTS `+benchSchema+` CASCADE`),
			e.db.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, benchSchema),
			e.db.Exec(ctx, `DROP PUBLICATION IF EXISTS `+benchSchema))
	case outboxstore.MySQL:
		err = e.db.Exec(ctx, `DROP DATABASE IF EXISTS `+benchSchema)
	}
	e.db.Close()
	if e.db.Admin.Database() == outboxstore.SQLite {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if rerr := os.Remove(e.db.Addr + suffix); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = rerr
			}
		}
	}
	return err
}

// relayArgs are the flags that point a relay process at the bench's outbox.
func (e *env) relayArgs() []string {
	args := []string{"--database-url", e.url}
	if e.db.Admin.Database() != outboxstore.SQLite {
		args = append(args, "--schema", benchSchema)
	}
	if e.mode == outboxstore.WALMode {
		args = append(args, "--mode", "wal", "--slot", benchSchema, "--publication", benchSchema)
	}
	return args
}
