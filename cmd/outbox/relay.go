package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/envflag"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxprom"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
)

// relayOptions is the relay command's parsed and validated command line.
type relayOptions struct {
	db                      dbFlags
	cfg                     *relay.Config
	metrics                 *metrics
	ready                   *readiness
	brokers                 []string
	maxRecord               int
	metricsAddr, cpuProfile string
	backlogEvery            time.Duration
	otlp                    otlpConfig
	exactlyOnce             *outboxkafka.ExactlyOnceConfig // nil: at least once
	cloudEvents             *outboxkafka.CloudEvents       // nil: plain records
}

// parseRelay parses the relay's flags and checks everything that needs no connection.
func parseRelay(args []string, stderr io.Writer) (relayOptions, error) {
	f := envflag.New("outbox relay", stderr)
	o := relayOptions{db: addDBFlags(f), metrics: newMetrics()}
	o.db.addStandbyFlag(f)
	var (
		brokers     = f.String("kafka-brokers", "", "comma-separated Kafka bootstrap brokers, host:port")
		id          = f.String("relay-id", "", "relay name in leases and logs (default hostname-pid-random)")
		batch       = f.Int("batch-size", relay.DefaultBatchSize, "most events claimed and published at once")
		workers     = f.Int("workers", relay.DefaultWorkers, "batches in flight at once, each over its own share of the key buckets")
		poll        = f.Duration("poll-interval", relay.DefaultPollInterval, "idle wait between looks for new events")
		batchWait   = f.Duration("batch-wait", 0, fmt.Sprintf("while events flow, least time between claims after a batch that was not full (negative: none; 0: %s in table mode, none in WAL mode)", relay.DefaultBatchWait))
		leaseTTL    = f.Duration("lease-ttl", relay.DefaultLeaseTTL, "how long a relay owns its key buckets unrenewed")
		publishTO   = f.Duration("publish-timeout", 0, "one batch's publish deadline, under lease-ttl/3 (0 = lease-ttl/4)")
		attempts    = f.Int("max-attempts", relay.DefaultMaxAttempts, "permanent failures before an event is dead-lettered")
		backoff     = f.Duration("backoff", relay.DefaultBackoff, "first retry delay, doubled per attempt")
		maxBackoff  = f.Duration("max-backoff", relay.DefaultMaxBackoff, "longest retry delay")
		holdKey     = f.Bool("hold-key-on-dead", false, "stop a key's later events while one of its events is dead")
		exactly     = f.Bool("exactly-once", false, "publish in Kafka transactions fenced per key bucket, so read_committed consumers see each event once (needs --outbox-id)")
		outboxID    = f.String("outbox-id", "", "with --exactly-once, this outbox's name in Kafka, unique per cluster: transactional ids and progress keys")
		progress    = f.String("progress-topic", outboxkafka.DefaultProgressTopic, "with --exactly-once, the compacted topic of each bucket's progress")
		ceSource    = f.String("cloudevents-source", "", "make each record a CloudEvent (Kafka binding) with this source, a URI reference such as /orders (empty = off)")
		ceMode      = f.String("cloudevents-mode", "binary", "with --cloudevents-source: binary (attributes in ce_* headers) or structured (application/cloudevents+json values)")
		ceType      = f.String("cloudevents-content-type", outboxkafka.DefaultCloudEventsContentType, "with --cloudevents-source, the payload's datacontenttype when an event has no content-type header")
		retention   = f.Duration("retention", 0, "keep published events this long (0 = delete at once)")
		purgeEvery  = f.Duration("purge-interval", relay.DefaultPurgeInterval, "how often kept published events are purged")
		shutdown    = f.Duration("shutdown-timeout", relay.DefaultShutdownTimeout, "bound on finishing the batches in flight after SIGTERM")
		maxRecord   = f.Int("max-record-bytes", 1000012, "largest record batch the producer sends; larger events are dead-lettered (keep <= the topics' max.message.bytes)")
		metricsAddr = f.String("metrics-addr", "", "serve Prometheus metrics, /healthz and /readyz here, e.g. :9100 (empty = off)")
		backlog     = f.Duration("backlog-interval", outboxprom.DefaultBacklogInterval, "with --metrics-addr, how often the backlog gauges are sampled (0 = never)")
		logLevel    = f.String("log-level", "info", "debug, info, warn or error")
		logJSON     = f.Bool("log-json", false, "log JSON lines instead of text")
		cpuProfile  = f.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file until the relay stops")
	)
	if err := f.Parse(args); err != nil {
		return o, err
	}
	log, err := newLogger(stderr, *logLevel, *logJSON)
	if err != nil {
		return o, err
	}
	if o.brokers, err = envflag.Brokers(*brokers); err != nil {
		return o, err
	}
	if *maxRecord < 1024 || *maxRecord > 1<<30 {
		return o, fmt.Errorf("bad --max-record-bytes %d: use 1024 to 1073741824, at most the topics' max.message.bytes", *maxRecord)
	}
	o.maxRecord, o.metricsAddr, o.cpuProfile, o.backlogEvery = *maxRecord, *metricsAddr, *cpuProfile, *backlog
	if *metricsAddr != "" {
		if _, port, err := net.SplitHostPort(*metricsAddr); err != nil || port == "" {
			return o, fmt.Errorf("bad --metrics-addr %q: use host:port or :port, e.g. :9100", *metricsAddr)
		}
	}
	if *exactly {
		if *outboxID == "" {
			return o, errors.New("--exactly-once needs --outbox-id: name this outbox, uniquely per Kafka cluster")
		}
		o.exactlyOnce = &outboxkafka.ExactlyOnceConfig{ID: *outboxID, ProgressTopic: *progress}
	}
	if *ceSource != "" {
		if *ceMode != "binary" && *ceMode != "structured" {
			return o, fmt.Errorf("bad --cloudevents-mode %q: use binary or structured", *ceMode)
		}
		o.cloudEvents = &outboxkafka.CloudEvents{Source: *ceSource, Structured: *ceMode == "structured", ContentType: *ceType}
		if err := o.cloudEvents.Validate(); err != nil {
			return o, err
		}
		if o.exactlyOnce != nil {
			o.exactlyOnce.CloudEvents = o.cloudEvents
		}
	}
	if *backlog < 0 {
		return o, fmt.Errorf("bad --backlog-interval %s: use a positive duration, or 0 for no backlog gauges", *backlog)
	}
	if o.otlp, err = parseOTLP(os.Getenv); err != nil {
		return o, err
	}
	hooks := o.metrics.relay.Hooks()
	o.ready = &readiness{ttl: cmp.Or(*leaseTTL, relay.DefaultLeaseTTL)}
	o.metrics.reg.MustRegister(o.ready.gauge())
	hooks.Leases = o.ready.hook(hooks.Leases)
	o.cfg = &relay.Config{
		ID: *id, BatchSize: *batch, Workers: *workers, PollInterval: *poll, BatchWait: *batchWait, LeaseTTL: *leaseTTL, PublishTimeout: *publishTO,
		MaxAttempts: *attempts, Backoff: *backoff, MaxBackoff: *maxBackoff, HoldKeyOnDead: *holdKey, Retention: *retention,
		PurgeInterval: *purgeEvery, ShutdownTimeout: *shutdown, Logger: log, Hooks: hooks, ExactlyOnce: *exactly,
	}
	return o, o.cfg.Validate()
}

func cmdRelay(ctx context.Context, args []string, _, stderr io.Writer) error {
	o, err := parseRelay(args, stderr)
	if err != nil {
		return err
	}
	// A relay told to stop while it starts (the database's check can wait on SQLite's
	// write lock for seconds) stops cleanly, as it would once running.
	starting := func(err error) error {
		if ctx.Err() != nil {
			o.cfg.Logger.Info("relay stopped before it started", "err", err)
			return nil
		}
		return err
	}
	db, err := o.db.open(ctx)
	if err != nil {
		return starting(err)
	}
	defer db.Close()
	if err := db.Admin.Check(ctx); err != nil {
		return starting(err)
	}
	client, err := kafkaClient(ctx, o.brokers, append(outboxkafka.ProducerOpts(), kgo.ProducerBatchMaxBytes(int32(o.maxRecord)), o.metrics.kafkaOpt())...)
	if err != nil {
		return starting(err)
	}
	defer client.Close()
	o.ready.db = func(ctx context.Context) error { return db.Exec(ctx, "SELECT 1") }
	o.ready.kafka = client.Ping
	if db.Admin.Mode() == outboxstore.WALMode {
		o.ready.notes = everyAtMost(noteInterval, func(ctx context.Context) []string {
			if sl, err := db.Admin.Slot(ctx); err == nil && sl.FailoverRisk() != "" {
				return []string{"failover: " + sl.FailoverRisk()}
			}
			return nil
		})
	}
	standby, err := o.db.openStandby(ctx)
	if err != nil {
		return starting(err)
	}
	if standby != nil {
		defer standby.Close()
	}
	pub, err := o.publisher(client)
	if err != nil {
		return err
	}
	if c, ok := pub.(interface{ Close() }); ok {
		defer c.Close()
	}
	if o.otlp.on {
		tp, stop, err := startTracing(ctx, o.otlp, o.cfg.Logger)
		if err != nil {
			return err
		}
		defer stop() // after Run: the last batch's spans are flushed
		o.cfg.TracerProvider = tp
	}
	r, err := relay.New(db.Source, pub, o.cfg)
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.metricsAddr != "" {
		stop, err := serveMetrics(o.metricsAddr, o.metrics, o.ready, o.cfg.Logger)
		if err != nil {
			return err
		}
		defer stop()
		if o.backlogEvery > 0 {
			sctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { o.metrics.relay.SampleBacklog(sctx, db.Admin, o.backlogEvery, 0, o.cfg.Logger) })
			if standby != nil {
				wg.Go(func() { o.metrics.relay.SampleStandbySlot(sctx, standby.Admin, o.backlogEvery, o.cfg.Logger) })
			}
			defer wg.Wait() // before the database closes
			defer cancel()
		}
	}
	return r.Run(ctx)
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func newLogger(w io.Writer, level string, json bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func serveMetrics(addr string, m *metrics, ready http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("GET /readyz", ready)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// publisher is the relay's publisher over client, or with --exactly-once a
// transactional one whose clients take the same options, but for the Kafka client
// metrics: their hook registers one client's collectors, and there is one client per
// bucket.
func (o *relayOptions) publisher(client *kgo.Client) (outbox.Publisher, error) {
	if o.exactlyOnce == nil {
		return outboxkafka.New(client, &outboxkafka.Config{CloudEvents: o.cloudEvents})
	}
	return outboxkafka.NewExactlyOnce([]kgo.Opt{kgo.SeedBrokers(o.brokers...), kgo.DialTimeout(kafkaDialTimeout),
		kgo.ProducerBatchMaxBytes(int32(o.maxRecord))}, o.exactlyOnce)
}
