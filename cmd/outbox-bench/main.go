package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/firstunicorn/outbox/cmd/internal/envflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the bench and returns the exit status: 0 ok, 1 failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := bench(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, envflag.ErrUsage):
		return 2
	}
	fmt.Fprintf(stderr, "outbox-bench: %v\n", err)
	return 1
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox-bench", stderr)
	var (
		url      = f.String("database-url", "", "the database to measure: postgres://... (the bench uses schema outbox_bench), mysql://... (database outbox_bench) or sqlite:FILE (a file of the bench's own); it drops them afterwards")
		brokers  = f.String("kafka-brokers", "", "comma-separated Kafka brokers; the bench creates and deletes its topics")
		payload  = f.Int("payload-bytes", 1024, "payload size of each event")
		keys     = f.Int("keys", 10_000, "distinct keys")
		limitN   = f.Int("limit-events", 200_000, "events for the produce and claim limits")
		drainN   = f.Int("drain-events", 1_000_000, "backlog of the drain scenario (scale-out uses half)")
		rounds   = f.Int("drain-rounds", 3, "runs of each variant of a comparing drain (exactly_once, formats), in rotating order, each row the median")
		writers  = f.Int("writers", 8, "writer connections")
		duration = f.Duration("duration", 5*time.Second, "length of each timed write scenario")
		rates    = f.String("rates", "1000,5000,10000,20000", "sustained end-to-end rates, events/s")
		scale    = f.String("scale", "1,2,4", "relay process counts for scale-out")
		only     = f.String("only", "", "comma-separated scenarios to run: limits,drain,overhead,latency,steady,scale,remote,observability,exactly_once,formats (default all)")
		registry = f.String("schema-registry-url", "", "a schema registry's Confluent API, for the formats scenario's Avro, Protobuf and JSON Schema rows (empty: left out)")
		modes    = f.String("mode", "table", "store modes to measure, in one run: table, wal (PostgreSQL) or table,wal")
		asJSON   = f.Bool("json", false, "print JSON")
		report   = f.String("report", "", "also write the report as JSON to this file")
		relayArg = f.String("relay-args", "", "extra flags for every relay process, space-separated (e.g. \"--cpuprofile /tmp/relay.prof\")")
		bin      = f.String("outbox-bin", "", "the outbox command the relay processes run (default: outbox beside this binary, else on PATH)")
		proxied  = f.String("kafka-proxied-listener", "127.0.0.1:59094", "Kafka's listener that advertises --kafka-proxy-addr (remote scenario)")
		proxy    = f.String("kafka-proxy-addr", "127.0.0.1:59095", "where the remote scenario's delaying proxy listens")
		delay    = f.Duration("remote-delay", 5*time.Millisecond, "the remote scenario's delay each way between relays and Kafka")
	)
	if err := f.Parse(args); err != nil {
		return err
	}
	bl, err := envflag.Brokers(*brokers)
	if err != nil {
		return err
	}
	rs, err := ints("--rates", *rates)
	if err != nil {
		return err
	}
	ss, err := ints("--scale", *scale)
	if err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("no database: set --database-url or OUTBOX_DATABASE_URL")
	}
	outboxBin, err := findOutbox(*bin)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := Config{
		DatabaseURL: *url, Brokers: bl, PayloadBytes: *payload, Keys: *keys, LimitEvents: *limitN,
		DrainEvents: *drainN, DrainRounds: *rounds, Writers: *writers, Duration: *duration, Rates: rs, Scale: ss, Logger: log,
		OutboxBin: outboxBin, RelayArgs: strings.Fields(*relayArg),
		ProxiedListener: *proxied, ProxyAddr: *proxy, RemoteDelay: *delay, SchemaRegistryURL: *registry,
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	for _, m := range strings.Split(*modes, ",") {
		if m != "table" && m != "wal" {
			return fmt.Errorf("bad --mode %q: use table, wal or table,wal", *modes)
		}
		cfg.Modes = append(cfg.Modes, m)
	}
	rep, runErr := Run(ctx, cfg)
	if rep != nil && *report != "" {
		b, _ := json.Marshal(rep)
		if err := os.WriteFile(*report, b, 0o644); err != nil {
			return errors.Join(runErr, fmt.Errorf("--report: %w", err))
		}
	}
	if rep != nil {
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(rep)
		} else {
			printReport(stdout, rep)
		}
	}
	return runErr
}

// findOutbox is the outbox command: the one given, else beside this binary, else on PATH.
func findOutbox(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "outbox"); fileExists(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("outbox"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no outbox command beside this binary or on PATH: build it (go build -o bin/outbox ./cmd/outbox) or pass --outbox-bin")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "database: %s\n", rep.Database)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tvalue\tunit\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t  %s\n", r.Scenario, strconv.FormatFloat(r.Value, 'f', 2, 64), r.Unit, r.Note)
	}
	_ = tw.Flush()
	if rep.Failed != "" {
		fmt.Fprintf(w, "FAILED: %s (figures above are void)\n", rep.Failed)
	}
}

func ints(flag, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad %s %q: want positive whole numbers separated by commas", flag, list)
		}
		out = append(out, n)
	}
	return out, nil
}
