package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/outboxpgx"
)

// flags wraps a FlagSet whose defaults come from OUTBOX_* environment variables, so a
// daemon can be configured either way; a flag given on the command line wins.
type flags struct {
	*flag.FlagSet
	errs []error
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("outbox "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs}
}

func envName(flagName string) string {
	return "OUTBOX_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envDefault returns the value of name's environment variable parsed, or def when it is
// unset; a value that does not parse is reported by parse, naming what was wanted.
func envDefault[T any](f *flags, name string, def T, parse func(string) (T, error), want string) T {
	v, ok := os.LookupEnv(envName(name))
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("%s=%q: not %s", envName(name), v, want))
		return def
	}
	return x
}

func withEnv(name, usage string) string { return usage + " (env " + envName(name) + ")" }

func (f *flags) string(name, def, usage string) *string {
	def = envDefault(f, name, def, func(s string) (string, error) { return s, nil }, "")
	return f.String(name, def, withEnv(name, usage))
}

func (f *flags) int(name string, def int, usage string) *int {
	return f.Int(name, envDefault(f, name, def, strconv.Atoi, "a whole number"), withEnv(name, usage))
}

func (f *flags) duration(name string, def time.Duration, usage string) *time.Duration {
	def = envDefault(f, name, def, time.ParseDuration, "a duration such as 500ms or 15s")
	return f.Duration(name, def, withEnv(name, usage))
}

func (f *flags) bool(name string, def bool, usage string) *bool {
	return f.Bool(name, envDefault(f, name, def, strconv.ParseBool, "true or false"), withEnv(name, usage))
}

// parse parses args and reports bad environment values; no positional args are taken.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected argument %q\n", f.Arg(0))
		return errUsage
	}
	if len(f.errs) > 0 {
		return fmt.Errorf("bad environment: %v", f.errs[0])
	}
	return nil
}

// dbFlags are the flags every command has.
type dbFlags struct {
	url, schema, table *string
}

func addDBFlags(f *flags) dbFlags {
	return dbFlags{
		url:    f.string("database-url", "", "PostgreSQL URL, e.g. postgres://user@host:5432/db"),
		schema: f.string("schema", "public", "schema of the outbox tables"),
		table:  f.string("table", "outbox", "outbox table name"),
	}
}

// open connects to PostgreSQL, failing fast with the fix when it cannot.
func (d dbFlags) open(ctx context.Context) (*pgxpool.Pool, *outboxpgx.Store, error) {
	if *d.url == "" {
		return nil, nil, fmt.Errorf("no database: set --database-url or OUTBOX_DATABASE_URL")
	}
	cfg, err := pgxpool.ParseConfig(*d.url)
	if err != nil {
		return nil, nil, fmt.Errorf("bad --database-url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("cannot reach the database at %s:%d: %w (is it running? check --database-url)",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	store, err := outboxpgx.NewStore(pool, &outboxpgx.Config{Schema: *d.schema, Table: *d.table})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, store, nil
}

// withStore opens the outbox, runs fn on it, and closes the connections.
func (d dbFlags) withStore(ctx context.Context, fn func(*outboxpgx.Store) error) error {
	pool, store, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(store)
}

// parseBrokers checks a comma-separated host:port list.
func parseBrokers(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("no Kafka brokers: set --kafka-brokers or OUTBOX_KAFKA_BROKERS, e.g. localhost:9092")
	}
	var out []string
	for _, b := range strings.Split(list, ",") {
		b = strings.TrimSpace(b)
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return nil, fmt.Errorf("bad Kafka broker %q: want host:port, e.g. localhost:9092", b)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("bad Kafka broker %q: port must be 1-65535", b)
		}
		out = append(out, b)
	}
	return out, nil
}

// kafkaClient builds the relay's producer and checks that a broker answers.
func kafkaClient(ctx context.Context, brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("cannot reach Kafka at %s: %w (is it running? check --kafka-brokers)", strings.Join(brokers, ","), err)
	}
	return cl, nil
}
