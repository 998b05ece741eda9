package inbox

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
)

// The defaults of Config's zero fields, declared once for the consumer and for programs
// that show them.
const (
	DefaultConcurrency     = 8
	DefaultBatchSize       = 1
	DefaultMaxAttempts     = 5
	DefaultBackoff         = 200 * time.Millisecond
	DefaultMaxBackoff      = 10 * time.Second
	DefaultMaxBuffered     = 2000
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultPurgeInterval   = time.Minute
	DefaultRetryInterval   = time.Second
	DefaultCommitInterval  = time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// ConsumerConfig tunes a Consumer, as relay.Config tunes a relay. Group and Topics are
// required; zero fields of the others take the defaults given with them, and negative
// values are errors. The brokers, TLS and SASL are the Kafka client's, which NewConsumer
// takes.
type ConsumerConfig struct {
	// Group is the Kafka consumer group, and the inbox's dedupe scope: two groups each
	// apply every event once. Required.
	Group string
	// Topics are consumed from. Required; each must exist when Run starts.
	Topics []string
	// EventID names the event a record carries, the dedupe key. Default OutboxEventID:
	// the outbox-event-id header. A record it fails for is dead-lettered with its error,
	// never handled.
	EventID func(*Message) (string, error)
	// Concurrency is how many partitions' handlers run at once. Default 8.
	Concurrency int
	// BatchSize is the most events of one partition handled in one transaction, taken
	// from those already fetched: one record and one handler call each, one commit for
	// all. A failure anywhere in a batch rolls it all back, and its events are then
	// handled one transaction each, with retries and dead letters as usual (the batch's
	// failed call is not counted as an attempt). Default 1: a transaction per event.
	BatchSize int
	// MaxAttempts is how many failed handler calls send an event to the dead letters;
	// an error wrapping outbox.ErrPermanent sends it at once. Failures of the database
	// itself (unreachable, a failed commit) are retried for ever and do not count.
	// Default 5.
	MaxAttempts int
	// Backoff is the first retry delay, doubled per attempt up to MaxBackoff.
	// Defaults 200ms and 10s.
	Backoff, MaxBackoff time.Duration
	// MaxBuffered is how many fetched records a partition may have waiting before its
	// fetching pauses. Default 2000.
	MaxBuffered int
	// Retention is the dedupe window: the record of a handled event is kept this long,
	// then purged every PurgeInterval. An event redelivered after it is handled again.
	// Default 7 days; PurgeInterval default 1m.
	Retention, PurgeInterval time.Duration
	// RetryInterval is how often the consumer looks for dead events an operator asked
	// to retry (Admin.Retry, outbox inbox retry). Default 1s.
	RetryInterval time.Duration
	// CommitInterval is how often handled offsets are committed to Kafka; they are also
	// committed when partitions are revoked and at shutdown. A crash redelivers at most
	// this long's events, which the inbox records then drop. Default 1s.
	CommitInterval time.Duration
	// ShutdownTimeout bounds finishing the events in flight when Run's context ends or
	// partitions are revoked; handlers still running then are cancelled. Default 10s.
	ShutdownTimeout time.Duration
	// Logger receives the consumer's logs. Default slog.Default().
	Logger *slog.Logger
	// Hooks receive metrics. Default none.
	Hooks Hooks
	// TracerProvider makes the span each handler call runs in, a child of the trace
	// the record's traceparent header carries. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Hooks are optional callbacks for metrics; each may be nil. They run on the
// consumer's goroutines, several at once, so they must be quick and safe for
// concurrent use.
type Hooks struct {
	// Event is called for each event once its attempt has an outcome.
	Event func(EventStats)
}

// EventStats describes one event's attempt.
type EventStats struct {
	Topic     string
	Partition int32
	Outcome   Outcome
	// Attempt counts from 1; 0 for an event dead-lettered without a handler call.
	Attempt int
	// Duration is the attempt's time: the transaction, the handler and the commit; for
	// an event handled in a batch (ConsumerConfig.BatchSize), the whole batch's.
	Duration time.Duration
	// Lag is how many records of the partition were behind this one when it was
	// fetched.
	Lag int64
	// Err is the attempt's error, for Retried and Dead.
	Err error
}

// Outcome is what became of an event's attempt.
type Outcome string

// The outcomes of an attempt.
const (
	Handled   Outcome = "handled"   // the handler's transaction committed
	Duplicate Outcome = "duplicate" // the inbox had the event already; handler not called
	Retried   Outcome = "retry"     // failed; will be tried again
	Dead      Outcome = "dead"      // failed for good, or had no usable id; dead-lettered
)

func (c *ConsumerConfig) withDefaults() (ConsumerConfig, error) {
	var cfg ConsumerConfig
	if c != nil {
		cfg = *c
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&cfg.Concurrency, DefaultConcurrency)
	defInt(&cfg.BatchSize, DefaultBatchSize)
	defInt(&cfg.MaxAttempts, DefaultMaxAttempts)
	defInt(&cfg.MaxBuffered, DefaultMaxBuffered)
	def(&cfg.Backoff, DefaultBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.Retention, DefaultRetention)
	def(&cfg.PurgeInterval, DefaultPurgeInterval)
	def(&cfg.RetryInterval, DefaultRetryInterval)
	def(&cfg.CommitInterval, DefaultCommitInterval)
	def(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.EventID == nil {
		cfg.EventID = OutboxEventID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBackoff < cfg.Backoff {
		return cfg, fmt.Errorf("%w: inbox: MaxBackoff %s is under Backoff %s", outbox.ErrInvalidConfig, cfg.MaxBackoff, cfg.Backoff)
	}
	return cfg, nil
}

// validate reports every bad field at once, each with its fix.
func (c *ConsumerConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: inbox: "+format, append([]any{outbox.ErrInvalidConfig}, args...)...))
	}
	if c.Group == "" {
		bad("no Group: name the consumer group, e.g. \"inventory\"")
	}
	if len(c.Topics) == 0 {
		bad("no Topics: name the topics to consume")
	}
	for _, t := range c.Topics {
		if t == "" {
			bad("an empty topic name in Topics")
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Concurrency", int64(c.Concurrency)}, {"BatchSize", int64(c.BatchSize)}, {"MaxAttempts", int64(c.MaxAttempts)}, {"MaxBuffered", int64(c.MaxBuffered)},
		{"Backoff", int64(c.Backoff)}, {"MaxBackoff", int64(c.MaxBackoff)}, {"Retention", int64(c.Retention)},
		{"PurgeInterval", int64(c.PurgeInterval)}, {"RetryInterval", int64(c.RetryInterval)},
		{"CommitInterval", int64(c.CommitInterval)}, {"ShutdownTimeout", int64(c.ShutdownTimeout)},
	} {
		if f.v < 0 {
			bad("%s is negative: use a positive value, or 0 for the default", f.name)
		}
	}
	return errors.Join(errs...)
}
