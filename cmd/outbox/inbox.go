package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/cmd/internal/envflag"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxstore"
)

// inboxCommands operate a consumer inbox: "outbox inbox <command>".
var inboxCommands = []command{
	{"migrate", "create or upgrade the inbox tables", cmdInboxMigrate},
	{"dead", "list the dead events of a group (or all) with their last error", cmdInboxDead},
	{"retry", "hand dead events to the group's running consumers again (--id ID or --all)", cmdInboxRetry},
	{"purge", "delete dead events for good (--id ID, --all or --dead-older-than D)", cmdInboxPurge},
}

func cmdInbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		for _, c := range inboxCommands {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "outbox inbox: unknown command %q\n\n", args[0])
	}
	fmt.Fprintln(stderr, "usage: outbox inbox <command> [flags]\n\ncommands:")
	for _, c := range inboxCommands {
		fmt.Fprintf(stderr, "  %-8s %s\n", c.name, c.summary)
	}
	return envflag.ErrUsage
}

// inboxFlags are the flags every inbox command has.
type inboxFlags struct {
	url, schema, table, group *string
}

func addInboxFlags(f *envflag.Set, groupNeeded bool) inboxFlags {
	help := "the consumer group"
	if !groupNeeded {
		help += " (default all groups)"
	}
	return inboxFlags{
		url:    f.String("database-url", "", "the inbox's database: postgres://user@host:5432/db, mysql://user:pass@host:3306/db or sqlite:/path/app.db"),
		schema: f.String("schema", "", "schema (PostgreSQL, default public) or database (MySQL, default the URL's) of the inbox tables"),
		table:  f.String("inbox-table", inbox.DefaultTable, "inbox table name"),
		group:  f.String("group", "", help),
	}
}

// withInbox opens the inbox's database, runs fn on its store and closes the connections.
func (d inboxFlags) withInbox(ctx context.Context, fn func(*inbox.Admin) error) error {
	o, err := dburl.Open(ctx, *d.url, &outboxstore.Config{Schema: *d.schema}, dburl.Options{})
	if err != nil {
		return err
	}
	defer o.Close()
	in, err := o.Inbox(&inbox.Config{Schema: *d.schema, Table: *d.table})
	if err != nil {
		return err
	}
	return fn(in)
}

func cmdInboxMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox inbox migrate", stderr)
	d := addInboxFlags(f, false)
	if err := f.Parse(args); err != nil {
		return err
	}
	return d.withInbox(ctx, func(in *inbox.Admin) error {
		applied, err := in.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "%s is up to date\n", in.Table())
		} else {
			fmt.Fprintf(stdout, "%s: applied migrations %v\n", in.Table(), applied)
		}
		return nil
	})
}

func cmdInboxDead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox inbox dead", stderr)
	d := addInboxFlags(f, false)
	limit := f.Int("limit", 100, "most events to list, oldest first")
	asJSON := f.Bool("json", false, "print JSON lines")
	if err := f.Parse(args); err != nil {
		return err
	}
	if *limit <= 0 {
		return fmt.Errorf("--limit must be positive")
	}
	return d.withInbox(ctx, func(in *inbox.Admin) error {
		dead, err := in.Dead(ctx, *d.group, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return jsonLines(stdout, dead)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tGROUP\tTOPIC/PARTITION@OFFSET\tKEY\tATTEMPTS\tDEAD AT\tRETRY\tLAST ERROR")
		for _, e := range dead {
			fmt.Fprintf(tw, "%s\t%s\t%s/%d@%d\t%s\t%d\t%s\t%v\t%s\n", e.ID, e.Group, e.Topic, e.Partition, e.Offset,
				e.Key, e.Attempts, e.DeadAt.UTC().Format(time.RFC3339), e.RetryAsked, e.Error)
		}
		return tw.Flush()
	})
}

// groupTarget parses the flags of a command that acts on a group's dead events.
func groupTarget(name, verb string, purge bool, args []string, stderr io.Writer) (inboxFlags, deadTarget, error) {
	f := envflag.New("outbox inbox "+name, stderr)
	d := addInboxFlags(f, true)
	t := addDeadTarget(f, verb, purge)
	if err := f.Parse(args); err != nil {
		return d, t, err
	}
	if *d.group == "" {
		return d, t, fmt.Errorf("set --group: the consumer group whose dead events to %s", verb)
	}
	return d, t, t.check()
}

func cmdInboxRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, t, err := groupTarget("retry", "retry", false, args, stderr)
	if err != nil {
		return err
	}
	return d.withInbox(ctx, func(in *inbox.Admin) error {
		asked, err := t.apply(func(id string) (int64, error) { return in.Retry(ctx, *d.group, id) },
			func() (int64, error) { return in.RetryAll(ctx, *d.group) })
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "asked for %d dead events to be retried: the group's running consumers hand them to their handler\n", asked)
		return nil
	})
}

func cmdInboxPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, t, err := groupTarget("purge", "delete", true, args, stderr)
	if err != nil {
		return err
	}
	return d.withInbox(ctx, func(in *inbox.Admin) error {
		purged, err := t.apply(func(id string) (int64, error) { return in.PurgeDead(ctx, *d.group, id) },
			func() (int64, error) { return in.PurgeDeadOlderThan(ctx, *d.group, *t.olderThan) })
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purged %d dead events\n", purged)
		return nil
	})
}
