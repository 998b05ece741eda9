package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firstunicorn/outbox/internal/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("bench", stderr)
	var (
		url      = f.string("database-url", "", "PostgreSQL URL; the bench works in its own schema, outbox_bench, and drops it")
		brokers  = f.string("kafka-brokers", "", "comma-separated Kafka brokers; the bench creates and deletes its topics")
		payload  = f.Int("payload-bytes", 1024, "payload size of each event")
		keys     = f.Int("keys", 10_000, "distinct keys")
		limitN   = f.Int("limit-events", 200_000, "events for the produce and claim limits")
		drainN   = f.Int("drain-events", 1_000_000, "backlog of the drain scenario (scale-out uses half)")
		writers  = f.Int("writers", 8, "writer connections")
		duration = f.Duration("duration", 5*time.Second, "length of each timed write scenario")
		rates    = f.String("rates", "1000,5000,10000,20000", "sustained end-to-end rates, events/s")
		scale    = f.String("scale", "1,2,4", "relay process counts for scale-out")
		only     = f.String("only", "", "comma-separated scenarios to run: limits,drain,overhead,latency,scale (default all)")
		asJSON   = f.Bool("json", false, "print JSON")
		relayArg = f.String("relay-args", "", "extra flags for every relay process, space-separated (e.g. \"--cpuprofile /tmp/relay.prof\")")
	)
	if err := f.parse(args); err != nil {
		return err
	}
	bl, err := parseBrokers(*brokers)
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
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log, _ := newLogger(stderr, "info", false)
	cfg := bench.Config{
		DatabaseURL: *url, Brokers: bl, PayloadBytes: *payload, Keys: *keys, LimitEvents: *limitN,
		DrainEvents: *drainN, Writers: *writers, Duration: *duration, Rates: rs, Scale: ss, Logger: log,
		Relay: func(args ...string) *exec.Cmd {
			args = append(append([]string{"relay", "--database-url", *url, "--kafka-brokers", *brokers}, args...), strings.Fields(*relayArg)...)
			return exec.Command(exe, args...)
		},
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	rep, runErr := bench.Run(ctx, cfg)
	if rep != nil {
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(rep)
		} else {
			printReport(stdout, rep)
		}
	}
	return runErr
}

func printReport(w io.Writer, rep *bench.Report) {
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
