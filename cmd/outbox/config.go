package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/cmd/internal/envflag"
	"github.com/firstunicorn/outbox/outboxstore"
)

// dbFlags are the flags every command has.
type dbFlags struct {
	url, schema, table, mode, slot, publication *string
	standby                                     *string // status and relay only: see addStandbyFlag
}

// addStandbyFlag adds --standby-url, for the commands that report on a standby.
func (d *dbFlags) addStandbyFlag(f *envflag.Set) {
	d.standby = f.String("standby-url", "", "wal mode on PostgreSQL 17: a standby of the database, to report whether it has a synced copy of the slot (a failover to it keeps the slot only then); default none")
}

// openStandby opens the outbox on the standby, nil when --standby-url is not set. Its
// Admin answers Slot only: the standby is read-only.
func (d dbFlags) openStandby(ctx context.Context) (*dburl.Outbox, error) {
	if d.standby == nil || *d.standby == "" {
		return nil, nil
	}
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	if cfg.Mode != outboxstore.WALMode {
		return nil, fmt.Errorf("--standby-url is for --mode wal: table mode has no slot to sync")
	}
	o, err := dburl.Open(ctx, *d.standby, cfg, dburl.Options{})
	if err != nil {
		return nil, fmt.Errorf("--standby-url: %w", err)
	}
	return o, nil
}

func addDBFlags(f *envflag.Set) dbFlags {
	return dbFlags{
		url:         f.String("database-url", "", "the outbox's database: postgres://user@host:5432/db, mysql://user:pass@host:3306/db or sqlite:/path/app.db"),
		schema:      f.String("schema", "", "schema (PostgreSQL, default public) or database (MySQL, default the URL's) of the outbox tables"),
		table:       f.String("table", outboxstore.DefaultTable, "outbox table name"),
		mode:        f.String("mode", string(outboxstore.TableMode), "how events travel: table (rows of the outbox table) or wal (PostgreSQL logical decoding messages)"),
		slot:        f.String("slot", "", "wal mode: replication slot name (default the table's name)"),
		publication: f.String("publication", "", "wal mode: publication name (default the table's name)"),
	}
}

// config is the store's configuration, its mode checked.
func (d dbFlags) config() (*outboxstore.Config, error) {
	mode := outboxstore.Mode(*d.mode)
	if mode != outboxstore.TableMode && mode != outboxstore.WALMode {
		return nil, fmt.Errorf("bad --mode %q: use table or wal", *d.mode)
	}
	if mode == outboxstore.TableMode && (*d.slot != "" || *d.publication != "") {
		return nil, fmt.Errorf("--slot and --publication are for --mode wal")
	}
	return &outboxstore.Config{Schema: *d.schema, Table: *d.table, Mode: mode, Slot: *d.slot, Publication: *d.publication}, nil
}

// open connects to the database, failing fast with the fix when it cannot.
func (d dbFlags) open(ctx context.Context) (*dburl.Outbox, error) {
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	return dburl.Open(ctx, *d.url, cfg, dburl.Options{})
}

// withStore opens the outbox, checks that it is migrated, runs fn on it, and closes the
// connections.
func (d dbFlags) withStore(ctx context.Context, fn func(*outboxstore.Admin) error) error {
	o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if err := o.Admin.Check(ctx); err != nil {
		return err
	}
	return fn(o.Admin)
}

// kafkaDialTimeout bounds a connection attempt to one broker. franz-go's 10 s default
// equals the start-up check's whole deadline, and its Ping tries the seeds one by one:
// one seed cut off by a network partition (its packets dropped, so a connect neither
// succeeds nor is refused) would fail the relay's start-up and `outbox status` although
// the other brokers answer.
const kafkaDialTimeout = 3 * time.Second

// kafkaClient builds the relay's producer and checks that a broker answers.
func kafkaClient(ctx context.Context, brokers []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(kafkaDialTimeout)}, opts...)...)
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
