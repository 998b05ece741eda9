package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/internal/dburl"
	"github.com/firstunicorn/outbox/internal/envflag"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
)

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox migrate", stderr)
	db := addDBFlags(f)
	recreate := f.Bool("recreate-slot", false, "wal mode: drop the replication slot, invalidated or dropped, and create it anew from now (the events it lost stay lost)")
	if err := f.Parse(args); err != nil {
		return err
	}
	o, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	applied, err := o.Store.Migrate(ctx)
	if *recreate && o.Store.Mode() == outboxstore.WALMode && (err == nil || errors.Is(err, relay.ErrStreamLost)) {
		lsn, rerr := o.Store.RecreateSlot(ctx)
		if rerr != nil {
			return rerr
		}
		fmt.Fprintf(stdout, "replication slot created anew at %s\n", lsn)
		applied, err = o.Store.Migrate(ctx)
	} else if *recreate && o.Store.Mode() != outboxstore.WALMode {
		return fmt.Errorf("--recreate-slot is for --mode wal")
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s is up to date\n", o.Store.Table())
		return nil
	}
	fmt.Fprintf(stdout, "%s: applied migrations %v\n", o.Store.Table(), applied)
	return nil
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox status", stderr)
	db := addDBFlags(f)
	asJSON := f.Bool("json", false, "print JSON")
	topics := f.String("kafka-topics", "", "comma-separated topics whose partitions to check in Kafka (leaders, in-sync replicas, brokers down), through --kafka-brokers; default none")
	brokers := f.String("kafka-brokers", "", "Kafka brokers, for --kafka-topics")
	if err := f.Parse(args); err != nil {
		return err
	}
	var kafka *kafkaHealth
	if *topics != "" {
		bl, err := envflag.Brokers(*brokers)
		if err != nil {
			return err
		}
		h, err := describeKafka(ctx, bl, strings.Split(*topics, ","))
		if err != nil {
			return err
		}
		kafka = &h
	}
	return db.withStore(ctx, func(store dburl.Store) error {
		st, err := store.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON && store.Mode() != outboxstore.WALMode {
			return json.NewEncoder(stdout).Encode(struct {
				Pending  int64        `json:"pending"`
				InFlight int64        `json:"in_flight"`
				Dead     int64        `json:"dead"`
				Age      float64      `json:"oldest_pending_age_seconds"`
				Kafka    *kafkaHealth `json:"kafka,omitempty"`
			}{st.Pending, st.InFlight, st.Dead, st.OldestPendingAgeSeconds, kafka})
		}
		if store.Mode() == outboxstore.WALMode {
			err = walStatus(ctx, store, st, *asJSON, stdout)
		} else {
			age := time.Duration(st.OldestPendingAgeSeconds * float64(time.Second)).Round(time.Millisecond)
			fmt.Fprintf(stdout, "pending:            %d\nin flight:          %d\ndead:               %d\npublished (kept):   %d\noldest pending age: %s\n",
				st.Pending, st.InFlight, st.Dead, st.Published, age)
		}
		if err == nil && kafka != nil && !*asJSON {
			kafka.print(stdout)
		}
		return err
	})
}

func cmdDead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox dead", stderr)
	db := addDBFlags(f)
	limit := f.Int("limit", 100, "most events to list, oldest first")
	asJSON := f.Bool("json", false, "print JSON lines")
	if err := f.Parse(args); err != nil {
		return err
	}
	if *limit <= 0 {
		return fmt.Errorf("--limit must be positive")
	}
	return db.withStore(ctx, func(store dburl.Store) error {
		dead, err := store.Dead(ctx, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return jsonLines(stdout, dead)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTOPIC\tKEY\tTYPE\tATTEMPTS\tCREATED\tLAST ERROR")
		for _, d := range dead {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Topic, d.Key, d.Type, d.Attempts,
				d.CreatedAt.UTC().Format(time.RFC3339), d.LastError)
		}
		return tw.Flush()
	})
}

func cmdRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox retry", stderr)
	db := addDBFlags(f)
	id := f.String("id", "", "id of the dead event to send again")
	all := f.Bool("all", false, "send every dead event again")
	if err := f.Parse(args); err != nil {
		return err
	}
	var target uuid.UUID
	switch {
	case *all == (*id != ""):
		return fmt.Errorf("give exactly one of --id ID or --all")
	case *id != "":
		var err error
		if target, err = uuid.Parse(*id); err != nil {
			return fmt.Errorf("bad --id %q: want a UUID as 'outbox dead' prints it", *id)
		}
	}
	return db.withStore(ctx, func(store dburl.Store) error {
		n, err := store.Retry(ctx, target)
		if err != nil {
			return err
		}
		if *id != "" && n == 0 {
			return fmt.Errorf("no dead event with id %s", *id)
		}
		fmt.Fprintf(stdout, "requeued %d dead events\n", n)
		return nil
	})
}

func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox purge", stderr)
	db := addDBFlags(f)
	age := f.Duration("dead-older-than", 0, "delete dead events created longer ago than this, e.g. 168h")
	if err := f.Parse(args); err != nil {
		return err
	}
	if *age <= 0 {
		return fmt.Errorf("set --dead-older-than to a positive duration, e.g. 168h")
	}
	return db.withStore(ctx, func(store dburl.Store) error {
		n, err := store.PurgeDead(ctx, *age)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purged %d dead events\n", n)
		return nil
	})
}

// walStatus prints the dead letters and the replication slot of a WAL-mode outbox,
// whose events wait in the slot rather than in the table.
func walStatus(ctx context.Context, store dburl.Store, st outboxstore.Status, asJSON bool, stdout io.Writer) error {
	sl, err := store.Slot(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			Dead int64            `json:"dead"`
			Slot outboxstore.Slot `json:"slot"`
		}{st.Dead, sl})
	}
	status, safe := sl.WALStatus, "unlimited (max_slot_wal_keep_size = -1)"
	if status == "" {
		status = "missing: run 'outbox migrate --mode wal'"
	}
	if sl.SafeWALBytes >= 0 {
		safe = fmt.Sprintf("%d bytes", sl.SafeWALBytes)
	}
	reader := "none: events wait in the slot and it retains WAL"
	if sl.Active {
		reader = fmt.Sprintf("server process %d", sl.ActivePID)
	}
	lag := time.Duration(sl.LagSeconds * float64(time.Second)).Round(time.Millisecond).String()
	if sl.LagSeconds < 0 {
		lag = "age unknown (the slot's first transaction took too long to peek at)"
	}
	fmt.Fprintf(stdout, "dead:               %d\nslot:               %s\nwal status:         %s\nlag:                %d bytes, %s\nsafe WAL left:      %s\nreader:             %s\n",
		st.Dead, sl.Name, status, sl.LagBytes, lag, safe, reader)
	return nil
}

// jsonLines writes each item as one line of JSON.
func jsonLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
