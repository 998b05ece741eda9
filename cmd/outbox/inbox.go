package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/internal/dburl"
	"github.com/firstunicorn/outbox/internal/envflag"
	"github.com/firstunicorn/outbox/outboxstore"
)

// inboxCommands operate a consumer inbox: "outbox inbox <command>".
var inboxCommands = []command{
	{"migrate", "create or upgrade the inbox tables", cmdInboxMigrate},
	{"dead", "list the dead events of a group (or all) with their last error", cmdInboxDead},
	{"retry", "hand dead events to the group's running consumers again (--id N or --all)", cmdInboxRetry},
	{"purge", "delete dead events for good (--id N or --all)", cmdInboxPurge},
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
func (d inboxFlags) withInbox(ctx context.Context, fn func(dburl.InboxStore) error) error {
	o, err := dburl.Open(ctx, *d.url, &outboxstore.Config{Schema: *d.schema}, dburl.Options{})
	if err != nil {
		return err
	}
	defer o.Close()
	in, err := o.Inbox(&inbox.StoreConfig{Schema: *d.schema, Table: *d.table})
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
	return d.withInbox(ctx, func(in dburl.InboxStore) error {
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
	return d.withInbox(ctx, func(in dburl.InboxStore) error {
		dead, err := in.Dead(ctx, *d.group, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return jsonLines(stdout, dead)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tGROUP\tEVENT ID\tTOPIC/PARTITION@OFFSET\tKEY\tATTEMPTS\tDEAD AT\tRETRY\tLAST ERROR")
		for _, e := range dead {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s/%d@%d\t%s\t%d\t%s\t%v\t%s\n", e.ID, e.Group, e.EventID, e.Topic, e.Partition, e.Offset,
				e.Key, e.Attempts, e.DeadAt.UTC().Format(time.RFC3339), e.RetryAsked, e.Error)
		}
		return tw.Flush()
	})
}

// targetFlags parses the flags of a command that acts on dead events: --group, and
// exactly one of --id N (returned) or --all (0).
func targetFlags(name, verb string, args []string, stderr io.Writer) (inboxFlags, int64, error) {
	f := envflag.New("outbox inbox "+name, stderr)
	d := addInboxFlags(f, true)
	id := f.String("id", "", "id of the dead event to "+verb)
	all := f.Bool("all", false, verb+" every dead event of the group")
	if err := f.Parse(args); err != nil {
		return d, 0, err
	}
	if *d.group == "" {
		return d, 0, fmt.Errorf("set --group: the consumer group whose dead events to %s", verb)
	}
	if *all == (*id != "") {
		return d, 0, fmt.Errorf("give exactly one of --id N or --all")
	}
	if *id == "" {
		return d, 0, nil
	}
	n, err := strconv.ParseInt(*id, 10, 64)
	if err != nil || n <= 0 {
		return d, 0, fmt.Errorf("bad --id %q: want the number 'outbox inbox dead' prints", *id)
	}
	return d, n, nil
}

func cmdInboxRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, n, err := targetFlags("retry", "retry", args, stderr)
	if err != nil {
		return err
	}
	return d.withInbox(ctx, func(in dburl.InboxStore) error {
		var asked int64
		if n > 0 {
			asked, err = in.Retry(ctx, n)
		} else {
			asked, err = in.RetryAll(ctx, *d.group)
		}
		if err != nil {
			return err
		}
		if n > 0 && asked == 0 {
			return fmt.Errorf("no dead event with id %d", n)
		}
		fmt.Fprintf(stdout, "asked for %d dead events to be retried: the group's running consumers hand them to their handler\n", asked)
		return nil
	})
}

func cmdInboxPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, n, err := targetFlags("purge", "delete", args, stderr)
	if err != nil {
		return err
	}
	return d.withInbox(ctx, func(in dburl.InboxStore) error {
		purged, err := in.PurgeDead(ctx, *d.group, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purged %d dead events\n", purged)
		return nil
	})
}
