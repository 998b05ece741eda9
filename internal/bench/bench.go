// Package bench measures go-outbox against the physical limits of the PostgreSQL and
// Kafka it runs on; `outbox bench` prints its results. Every figure of a run is taken on
// the same machine in the same run, so the ratios between them hold on a noisy machine,
// and every scenario that relays events checks afterwards that none was lost or
// reordered: a fast run that lost an event is a failure, not a result.
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxpgx"
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
	// Writers is the number of writer connections. Default 8.
	Writers int
	// Duration is how long each timed write scenario runs. Default 5s.
	Duration time.Duration
	// Rates are the sustained end-to-end rates, events/s. Default 1000, 5000, 10000, 20000.
	Rates []int
	// Scale are the relay counts of the scale-out scenario. Default 1, 2, 4.
	Scale []int
	// Relay returns a command that runs one `outbox relay` process with args added.
	Relay func(args ...string) *exec.Cmd
	// Only runs just the named scenarios (limits, drain, overhead, latency, scale); empty = all.
	Only   []string
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
	Rows   []Row  `json:"rows"`
	Failed string `json:"failed,omitempty"` // set when a check failed: the figures are void
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

// env is the run's outbox (its own schema) and connections.
type env struct {
	cfg    Config
	pool   *pgxpool.Pool
	store  *outboxpgx.Store
	writer *outboxpgx.Writer
	schema string
	client *kgo.Client // producer with the relay's settings
	log    *slog.Logger
}

const benchSchema = "outbox_bench"

// Run runs the scenarios and returns their figures. It returns an error for a failed
// check (events lost or reordered) along with the report so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	e, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer e.close()
	rep := &Report{}
	for _, s := range []struct {
		name string
		fn   func(context.Context, *Report) error
	}{
		{"limits", e.limits},
		{"drain", e.drainScenario},
		{"overhead", e.overhead},
		{"latency", e.latency},
		{"scale", e.scale},
	} {
		if !selected(cfg.Only, s.name) {
			continue
		}
		e.log.Info("bench scenario", "name", s.name)
		if err := s.fn(ctx, rep); err != nil {
			rep.Failed = fmt.Sprintf("%s: %v", s.name, err)
			return rep, fmt.Errorf("bench %s: %w", s.name, err)
		}
	}
	return rep, nil
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

func open(ctx context.Context, cfg Config) (*env, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	pcfg.MaxConns = int32(max(cfg.Writers+4, 8))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, pool: pool, schema: benchSchema, log: cfg.Logger}
	if err := e.resetSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	e.client, err = kgo.NewClient(append(outboxkafka.ProducerOpts(), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	e.client.Close()
	_, _ = e.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+e.schema+` CASCADE`)
	e.pool.Close()
}

// resetSchema gives the next scenario an empty, freshly migrated outbox.
func (e *env) resetSchema(ctx context.Context) error {
	if _, err := e.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+e.schema+` CASCADE`); err != nil {
		return err
	}
	cfg := &outboxpgx.Config{Schema: e.schema, Limits: bigLimits}
	store, err := outboxpgx.NewStore(e.pool, cfg)
	if err != nil {
		return err
	}
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	e.store = store
	e.writer, err = outboxpgx.NewWriter(cfg)
	return err
}
