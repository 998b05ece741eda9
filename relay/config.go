package relay

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
)

// The defaults of Config's zero fields, declared once for the relay and for programs
// that show them (the outbox command's flags). PublishTimeout defaults to LeaseTTL/4.
const (
	DefaultBatchSize       = 500
	DefaultWorkers         = 4
	DefaultPollInterval    = 100 * time.Millisecond
	DefaultBatchWait       = 5 * time.Millisecond
	DefaultLeaseTTL        = 15 * time.Second
	DefaultMaxAttempts     = 5
	DefaultBackoff         = 500 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultPurgeInterval   = time.Minute
	DefaultShutdownTimeout = 10 * time.Second
)

// Config tunes a Relay. A nil *Config means all defaults; zero fields take the defaults
// given with them. Negative values are errors, except BatchWait's.
type Config struct {
	// ID names this relay in leases and logs; unique per process. Default
	// "<hostname>-<pid>-<random>".
	ID string
	// BatchSize is the most messages claimed and published at once. It also bounds the
	// duplicates a relay that dies mid-batch can cause. Default 500.
	BatchSize int
	// Workers is how many batches the relay has in flight at once, each over its own
	// share of the buckets (bucket % Workers). Each takes a database connection while
	// its batch is open. While their batches come back small and quick (under twice
	// BatchWait), one worker claims every bucket alone until a batch comes back full or
	// slow (not with ExactlyOnce, nor without BatchWait); a key has one batch at a time
	// either way, since a batch locks the buckets it claims.
	// Default 4.
	Workers int
	// PollInterval is how long an idle relay waits before it looks for new messages.
	// Default 100ms.
	PollInterval time.Duration
	// BatchWait is, while events flow, the least time between two claims of a worker
	// whose last batch was not full: the transactions committed meanwhile share the
	// next batch instead of each paying for a claim, a settlement and a produce request
	// of its own. It adds up to this much to an event's latency, and only while events
	// flow: the first event after a quiet spell is claimed at once. In WAL mode a batch
	// takes what the stream brings within BatchWait of its first event. Negative: no
	// wait. Default 5ms in table mode (docs/benchmarks.md#steady-state); none in WAL
	// mode, where it made Kafka's requests fewer but saved no CPU.
	BatchWait time.Duration
	// LeaseTTL is how long a relay owns its key buckets without renewing them; a relay
	// that died is replaced after at most this long. Renewed every LeaseTTL/3.
	// Default 15s.
	LeaseTTL time.Duration
	// PublishTimeout bounds one batch's publish. It must be under LeaseTTL/3, so a batch
	// never outlives the leases it was claimed under. Default LeaseTTL/4.
	PublishTimeout time.Duration
	// MaxAttempts is how many permanent failures (outbox.ErrPermanent) send a message to
	// the dead-letter state; transient failures never do. Default 5. A stream
	// (WAL mode) dead-letters at the first permanent failure.
	MaxAttempts int
	// Backoff is the first retry delay, doubled per attempt up to MaxBackoff, with
	// jitter. Defaults 500ms and 30s.
	Backoff, MaxBackoff time.Duration
	// HoldKeyOnDead stops a key's later messages while one of its messages is dead,
	// until an operator retries or purges it. Default false: later messages go on, so a
	// consumer sees the key's order with the dead message missing.
	HoldKeyOnDead bool
	// Retention keeps published messages (status published) for this long, then purges
	// them every PurgeInterval. Default 0: published messages are deleted at once.
	Retention time.Duration
	// PurgeInterval is how often retained messages are purged. Default 1m.
	PurgeInterval time.Duration
	// ShutdownTimeout bounds finishing the batches in flight and releasing the leases
	// once Run's context is cancelled. Default 10s.
	ShutdownTimeout time.Duration
	// ExactlyOnce publishes in Kafka transactions, fenced per key bucket (WAL mode: per
	// stream), with each transaction's progress beside its events: a consumer reading
	// with isolation level read_committed then sees each event once, even when relays
	// crash between Kafka's commit and the database's or stall past their leases. The
	// publisher must publish in transactions (outboxkafka.NewExactlyOnce). Default
	// false: at least once, with duplicates after a crash. See docs/reliability.md.
	ExactlyOnce bool
	// Logger receives the relay's logs. Default slog.Default().
	Logger *slog.Logger
	// Hooks receive metrics. Default none.
	Hooks Hooks
	// TracerProvider makes the send span of each published message. Default
	// otel.GetTracerProvider(): the global one, which records nothing until the
	// program installs an OpenTelemetry SDK.
	TracerProvider trace.TracerProvider
}

// Hooks are optional callbacks for metrics (outboxprom implements them for Prometheus);
// each may be nil. They run on the relay's goroutines, Batch and Event on several at
// once, so they must be quick and safe for concurrent use.
type Hooks struct {
	// Batch is called after each non-empty batch.
	Batch func(BatchStats)
	// Event is called for each claimed event once its attempt has an outcome, before
	// the batch's Batch.
	Event func(EventStats)
	// Leases is called after each successful lease sync.
	Leases func(LeaseStats)
}

// BatchStats describes one batch.
type BatchStats struct {
	Claimed, Published, Failed, Dead, Skipped int
	Duration                                  time.Duration
}

// EventStats describes one event's attempt.
type EventStats struct {
	Topic   string
	Outcome Outcome
	// Failure classifies a failed attempt; empty when the event was sent or skipped.
	Failure Failure
	// Attempt counts from 1.
	Attempt int
	// CommitToAck is, for a sent event, the time from its writer's transaction (the
	// database's clock) to Kafka's acknowledgement (the relay's clock).
	CommitToAck time.Duration
}

// Outcome is what became of an event's attempt.
type Outcome string

// The outcomes of an attempt.
const (
	Sent    Outcome = "sent"    // acknowledged by Kafka
	Retried Outcome = "retry"   // failed; will be tried again
	Dead    Outcome = "dead"    // failed; dead-lettered
	Skipped Outcome = "skipped" // held back behind a failed event of its key, not attempted
)

// Failure is the class of a failed attempt.
type Failure string

// The classes of failure.
const (
	Transient Failure = "transient" // the broker or network; retried for ever
	Permanent Failure = "permanent" // outbox.ErrPermanent; counts towards MaxAttempts
	Malformed Failure = "malformed" // the stored row cannot be a message; dead at once
)

// LeaseStats describes a lease sync.
type LeaseStats struct {
	// Held is how many key buckets this relay holds; Alive how many relays heartbeat.
	Held, Alive int
}

// Validate reports whether New would accept c, naming each bad field and its fix, so a
// program can check its configuration before it connects to anything.
func (c *Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.ID == "" {
		cfg.ID = defaultID()
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.LeaseTTL, DefaultLeaseTTL)
	def(&cfg.PublishTimeout, cfg.LeaseTTL/4)
	def(&cfg.Backoff, DefaultBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.PurgeInterval, DefaultPurgeInterval)
	def(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PublishTimeout >= cfg.LeaseTTL/3 {
		return cfg, fmt.Errorf("%w: relay: PublishTimeout %s must be under LeaseTTL/3 (%s): lower it or raise LeaseTTL",
			outbox.ErrInvalidConfig, cfg.PublishTimeout, cfg.LeaseTTL/3)
	}
	if cfg.MaxBackoff < cfg.Backoff {
		return cfg, fmt.Errorf("%w: relay: MaxBackoff %s is under Backoff %s", outbox.ErrInvalidConfig, cfg.MaxBackoff, cfg.Backoff)
	}
	return cfg, nil
}

// validate reports every negative field at once, each with its fix.
func (c *Config) validate() error {
	var errs []error
	neg := func(name string, bad bool) {
		if bad {
			errs = append(errs, fmt.Errorf("%w: relay: %s is negative: use a positive value, or 0 for the default", outbox.ErrInvalidConfig, name))
		}
	}
	neg("BatchSize", c.BatchSize < 0)
	neg("MaxAttempts", c.MaxAttempts < 0)
	neg("Workers", c.Workers < 0)
	neg("PollInterval", c.PollInterval < 0)
	neg("LeaseTTL", c.LeaseTTL < 0)
	neg("PublishTimeout", c.PublishTimeout < 0)
	neg("Backoff", c.Backoff < 0)
	neg("MaxBackoff", c.MaxBackoff < 0)
	neg("Retention", c.Retention < 0)
	neg("PurgeInterval", c.PurgeInterval < 0)
	neg("ShutdownTimeout", c.ShutdownTimeout < 0)
	if c.LeaseTTL > 0 && c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("%w: relay: LeaseTTL %s is under 1s: leases could not be renewed in time", outbox.ErrInvalidConfig, c.LeaseTTL))
	}
	return errors.Join(errs...)
}

func defaultID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
}
