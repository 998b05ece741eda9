// Package envflag is a flag set whose every flag also reads an OUTBOX_* environment
// variable (--kafka-brokers is OUTBOX_KAFKA_BROKERS), so a daemon can be configured
// either way; a flag given on the command line wins. The outbox and outbox-bench
// commands share it.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrUsage means the flag package already printed the problem: exit 2.
var ErrUsage = errors.New("usage")

// Set is a flag.FlagSet whose defaults come from the environment.
type Set struct {
	*flag.FlagSet
	errs []error
}

// New returns the flag set of command name, printing usage and errors to stderr.
func New(name string, stderr io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &Set{FlagSet: fs}
}

// Name is the environment variable of a flag.
func Name(flagName string) string {
	return "OUTBOX_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envDefault returns the value of name's environment variable parsed, or def when it is
// unset; a value that does not parse is reported by Parse, naming what was wanted.
func envDefault[T any](f *Set, name string, def T, parse func(string) (T, error), want string) T {
	v, ok := os.LookupEnv(Name(name))
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("%s=%q: not %s", Name(name), v, want))
		return def
	}
	return x
}

func withEnv(name, usage string) string { return usage + " (env " + Name(name) + ")" }

// String defines a string flag.
func (f *Set) String(name, def, usage string) *string {
	def = envDefault(f, name, def, func(s string) (string, error) { return s, nil }, "")
	return f.FlagSet.String(name, def, withEnv(name, usage))
}

// Int defines an int flag.
func (f *Set) Int(name string, def int, usage string) *int {
	return f.FlagSet.Int(name, envDefault(f, name, def, strconv.Atoi, "a whole number"), withEnv(name, usage))
}

// Duration defines a duration flag.
func (f *Set) Duration(name string, def time.Duration, usage string) *time.Duration {
	def = envDefault(f, name, def, time.ParseDuration, "a duration such as 500ms or 15s")
	return f.FlagSet.Duration(name, def, withEnv(name, usage))
}

// Bool defines a bool flag.
func (f *Set) Bool(name string, def bool, usage string) *bool {
	return f.FlagSet.Bool(name, envDefault(f, name, def, strconv.ParseBool, "true or false"), withEnv(name, usage))
}

// Parse parses args and reports bad environment values; no positional args are taken.
// It returns flag.ErrHelp for -h, and ErrUsage when the flag package printed a problem.
func (f *Set) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return ErrUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected argument %q\n", f.Arg(0))
		return ErrUsage
	}
	if len(f.errs) > 0 {
		return fmt.Errorf("bad environment: %v", f.errs[0])
	}
	return nil
}

// Brokers parses a --kafka-brokers value: a comma-separated host:port list.
func Brokers(list string) ([]string, error) {
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
