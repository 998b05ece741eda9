// Command outbox runs and operates a go-outbox outbox on PostgreSQL, MySQL/MariaDB or
// SQLite: the relay daemon, schema migrations, status, dead letters and purges.
//
//	outbox migrate                  create or upgrade the schema
//	outbox relay                    publish the outbox to Kafka until SIGTERM/SIGINT
//	outbox status [--json]          pending, in-flight, dead, oldest pending age
//	outbox dead [--limit N] [--json] list dead-lettered events with their last error
//	outbox retry --id ID | --all    send dead events again
//	outbox purge --dead-older-than D  delete old dead events
//	outbox inbox migrate|dead|retry|purge  the same for a consumer inbox (--group G)
//	outbox console [--addr A]       the operator console (pages and JSON API)
//
// Every flag has an environment variable (OUTBOX_DATABASE_URL, OUTBOX_KAFKA_BROKERS, ...):
// run "outbox <command> -h" for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/firstunicorn/outbox/cmd/internal/envflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"migrate", "create or upgrade the outbox schema", cmdMigrate},
	{"relay", "publish the outbox to Kafka until SIGTERM or SIGINT", cmdRelay},
	{"status", "print pending, in-flight and dead counts and the oldest pending age", cmdStatus},
	{"dead", "list dead-lettered events with their last error", cmdDead},
	{"retry", "send dead-lettered events again (--id ID or --all)", cmdRetry},
	{"purge", "delete dead-lettered events older than --dead-older-than", cmdPurge},
	{"inbox", "operate a consumer inbox: migrate, dead, retry, purge", cmdInbox},
	{"console", "serve the operator console and its JSON API until SIGTERM or SIGINT", cmdConsole},
}

// run executes one command and returns the exit status: 0 ok, 1 failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, envflag.ErrUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "outbox %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "outbox: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: outbox <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'outbox <command> -h' for its flags; each has an OUTBOX_* environment variable.")
}
