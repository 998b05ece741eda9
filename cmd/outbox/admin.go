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

	"github.com/firstunicorn/outbox/cmd/internal/envflag"
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
	applied, err := o.Admin.Migrate(ctx)
	if *recreate && o.Admin.Mode() == outboxstore.WALMode && (err == nil || errors.Is(err, relay.ErrStreamLost)) {
		lsn, rerr := o.Admin.RecreateSlot(ctx)
		if rerr != nil {
			return rerr
		}
		fmt.Fprintf(stdout, "replication slot created anew at %s\n", lsn)
		applied, err = o.Admin.Migrate(ctx)
	} else if *recreate && o.Admin.Mode() != outboxstore.WALMode {
		return fmt.Errorf("--recreate-slot is for --mode wal")
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s is up to date\n", o.Admin.Table())
		return nil
	}
	fmt.Fprintf(stdout, "%s: applied migrations %v\n", o.Admin.Table(), applied)
	return nil
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox status", stderr)
	db := addDBFlags(f)
	db.addStandbyFlag(f)
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
	standby, err := db.openStandby(ctx)
	if err != nil {
		return err
	}
	if standby != nil {
		defer standby.Close()
	}
	return db.withStore(ctx, func(store *outboxstore.Admin) error {
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
			}{st.Pending, st.InFlight, st.Dead, st.OldestPendingAge.Seconds(), kafka})
		}
		if store.Mode() == outboxstore.WALMode {
			var sb *outboxstore.Admin
			if standby != nil {
				sb = standby.Admin
			}
			err = walStatus(ctx, store, sb, st, *asJSON, stdout)
		} else {
			age := st.OldestPendingAge.Round(time.Millisecond)
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
	return db.withStore(ctx, func(store *outboxstore.Admin) error {
		dead, err := store.Dead(ctx, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return jsonLines(stdout, dead)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTOPIC\tKEY\tTYPE\tATTEMPTS\tDEAD AT\tLAST ERROR")
		for _, d := range dead {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Topic, d.Key, d.Type, d.Attempts,
				d.DeadAt.UTC().Format(time.RFC3339), d.Error)
		}
		return tw.Flush()
	})
}

func cmdRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox retry", stderr)
	db := addDBFlags(f)
	t := addDeadTarget(f, "send again", false)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := t.check(); err != nil {
		return err
	}
	return db.withStore(ctx, func(store *outboxstore.Admin) error {
		n, err := t.apply(func(id string) (int64, error) { return store.Retry(ctx, id) }, func() (int64, error) { return store.RetryAll(ctx) })
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "requeued %d dead events\n", n)
		return nil
	})
}

func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := envflag.New("outbox purge", stderr)
	db := addDBFlags(f)
	t := addDeadTarget(f, "delete", true)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := t.check(); err != nil {
		return err
	}
	return db.withStore(ctx, func(store *outboxstore.Admin) error {
		n, err := t.apply(func(id string) (int64, error) { return store.PurgeDead(ctx, id) },
			func() (int64, error) { return store.PurgeDeadOlderThan(ctx, *t.olderThan) })
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purged %d dead events\n", n)
		return nil
	})
}

// walStatus prints the dead letters and the replication slot of a WAL-mode outbox,
// whose events wait in the slot rather than in the table, and what a failover would
// cost it; with standby, whether the standby has a synced copy.
func walStatus(ctx context.Context, store, standby *outboxstore.Admin, st outboxstore.Status, asJSON bool, stdout io.Writer) error {
	sl, err := store.Slot(ctx)
	if err != nil {
		return err
	}
	var sbl *outboxstore.Slot
	if standby != nil {
		s, err := standby.Slot(ctx)
		if err != nil {
			return fmt.Errorf("standby: %w", err)
		}
		if !s.Standby {
			return fmt.Errorf("--standby-url reaches a primary, not a standby (pg_is_in_recovery() is false)")
		}
		sbl = &s
	}
	if asJSON {
		var sbj *slotJSON
		if sbl != nil {
			sbj = &slotJSON{*sbl, sbl.Lag.Seconds(), sbl.FailoverRisk()}
		}
		return json.NewEncoder(stdout).Encode(struct {
			Dead    int64     `json:"dead"`
			Slot    slotJSON  `json:"slot"`
			Standby *slotJSON `json:"standby,omitempty"`
		}{st.Dead, slotJSON{sl, sl.Lag.Seconds(), sl.FailoverRisk()}, sbj})
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
	lag := sl.Lag.Round(time.Millisecond).String()
	if sl.Lag < 0 {
		lag = "age unknown (the slot's first transaction took too long to peek at)"
	}
	fmt.Fprintf(stdout, "dead:               %d\nslot:               %s\nwal status:         %s\nlag:                %d bytes, %s\nsafe WAL left:      %s\nreader:             %s\nfailover:           %s\n",
		st.Dead, sl.Name, status, sl.LagBytes, lag, safe, reader, failoverLine(sl))
	if sl.InvalidationReason != "" {
		fmt.Fprintf(stdout, "invalidated:        %s\n", sl.InvalidationReason)
	}
	if sbl != nil {
		line := "synced: a failover to it keeps the slot"
		if risk := sbl.FailoverRisk(); risk != "" {
			line = risk
		}
		fmt.Fprintf(stdout, "standby:            %s\n", line)
	}
	return nil
}

// failoverLine says what a failover would cost the primary's slot.
func failoverLine(sl outboxstore.Slot) string {
	if risk := sl.FailoverRisk(); risk != "" {
		return risk
	}
	return "ready: a failover slot, and the relay waits for the standbys of synchronized_standby_slots = " + sl.SynchronizedStandbySlots +
		" (whether a standby has synced it: --standby-url)"
}

// slotJSON is the slot as status --json prints it: its lag in seconds.
type slotJSON struct {
	outboxstore.Slot
	LagSeconds   float64 `json:"lag_seconds"`
	FailoverRisk string  `json:"failover_risk"`
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
