//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/ledger"
)

// writerConfig is what a writer process is told to do, as JSON in OUTBOX_CHAOS_CONFIG.
type writerConfig struct {
	DatabaseURL, Schema, Topic string
	Slot                       string // WAL mode's, when the cluster is in WAL mode
	Name                       string // key prefix: the writer's keys are Name-k0 .. Name-k(Keys-1)
	Keys                       int
	Events                     int           // committed events to write; 0 = until SIGTERM
	PerTx                      int           // events per transaction, on random keys of the writer
	Pace                       time.Duration // pause between transactions
	// Hold > 0 keeps each transaction open a random time up to Hold before it commits,
	// while the other writers commit around it.
	Hold time.Duration
	// PoisonEvery > 0 adds a poison event to every PoisonEvery-th transaction, in turn
	// one for MissingTopic (which does not exist) and one of BigBytes to Topic.
	PoisonEvery  int
	MissingTopic string
	BigBytes     int
	Ledger       string // file the ledger is written to at exit
	// Committed, when set, is a table (key, n) each transaction also inserts its events
	// into: the database's own record of what committed, which survives a failover
	// exactly as the outbox does.
	Committed string
}

// writerLedger is what a writer committed, per kind of event, and how often a commit
// failed (and was retried).
type writerLedger struct {
	Main, Missing, Big ledger.Ledger
	Transactions       int
	FailedCommits      int
	Errors             []string // the first few distinct errors
}

// runWriter commits events until told to stop, each transaction retried until it
// commits, so the ledger holds exactly what committed (an unclear commit that did
// commit and was retried shows up as a duplicate, never as a loss).
func runWriter() int {
	var cfg writerConfig
	if err := json.Unmarshal([]byte(os.Getenv("OUTBOX_CHAOS_CONFIG")), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "writer config:", err)
		return 2
	}
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	ctx := context.Background() // a transaction under way finishes even after SIGTERM
	scfg := &outboxstore.Config{Schema: cfg.Schema, Limits: outbox.Limits{MaxPayloadBytes: 4 << 20}}
	if cfg.Slot != "" {
		scfg.Mode, scfg.Slot, scfg.Publication = outboxstore.WALMode, cfg.Slot, cfg.Slot
	}
	db, err := dburl.Open(ctx, cfg.DatabaseURL, scfg, dburl.Options{AppName: "chaos-writer"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	defer db.Close()
	l := writerLedger{Main: ledger.Ledger{}, Missing: ledger.Ledger{}, Big: ledger.Ledger{}}
	seen := map[string]bool{}
	for committed := 0; stop.Err() == nil && (cfg.Events == 0 || committed < cfg.Events); {
		msgs, apply := cfg.batch(&l, l.Transactions)
		var hold time.Duration
		if cfg.Hold > 0 {
			hold = rand.N(cfg.Hold)
		}
		for {
			err := db.InTx(ctx, func(tx dburl.Tx) error {
				if err := cfg.record(ctx, tx, msgs); err != nil {
					return err
				}
				if err := tx.Write(ctx, msgs...); err != nil {
					return err
				}
				time.Sleep(hold)
				return nil
			})
			if err == nil || cfg.recorded(err) {
				break
			}
			l.FailedCommits++
			if msg := err.Error(); !seen[msg] && len(seen) < 5 {
				seen[msg] = true
				l.Errors = append(l.Errors, msg)
			}
			time.Sleep(50 * time.Millisecond)
		}
		apply()
		l.Transactions++
		committed += cfg.PerTx
		time.Sleep(cfg.Pace)
	}
	b, _ := json.Marshal(l)
	if err := os.WriteFile(cfg.Ledger, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	return 0
}

// batch builds transaction n's messages, numbered on from the ledger; apply records
// them once the transaction has committed. Each payload carries the time it was built,
// from which the verifier measures recovery.
func (c writerConfig) batch(l *writerLedger, n int) (msgs []outbox.Message, apply func()) {
	stamp := "/" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	if c.Hold > 0 {
		stamp += "/held" // it waited on purpose: not a measure of recovery
	}
	pending := map[string]int{} // this batch's earlier events per key
	var updates []func()
	add := func(lg ledger.Ledger, topic, key string, pad int) {
		p := string(ledger.Payload(key, lg[key]+pending[key])) + stamp
		if pad > 0 {
			p += "/" + strings.Repeat("x", pad)
		}
		pending[key]++
		msgs = append(msgs, outbox.Message{Topic: topic, Key: []byte(key), Type: "chaos", Payload: []byte(p)})
		updates = append(updates, func() { lg[key]++ })
	}
	for range c.PerTx {
		add(l.Main, c.Topic, c.Name+"-k"+strconv.Itoa(rand.N(c.Keys)), 0)
	}
	if c.PoisonEvery > 0 && n%c.PoisonEvery == c.PoisonEvery-1 {
		if (n/c.PoisonEvery)%2 == 0 {
			add(l.Missing, c.MissingTopic, c.Name+"-missing", 0)
		} else {
			add(l.Big, c.Topic, c.Name+"-big", c.BigBytes)
		}
	}
	return msgs, func() {
		for _, u := range updates {
			u()
		}
	}
}

// record inserts msgs into the Events table, as the business change of their
// transaction. A transaction retried after an unclear commit that did commit inserts
// nothing new: its events are already there.
func (c writerConfig) record(ctx context.Context, tx dburl.Tx, msgs []outbox.Message) error {
	if c.Committed == "" {
		return nil
	}
	for _, m := range msgs {
		key, rest, _ := strings.Cut(string(m.Payload), "/")
		n, _, _ := strings.Cut(rest, "/")
		if err := tx.Exec(ctx, "INSERT INTO "+c.Committed+" (key, n) VALUES ($1, $2::int)", key, n); err != nil {
			return err
		}
	}
	return nil
}

// recorded reports whether err is the Committed table's unique violation: the
// transaction had committed before.
func (c writerConfig) recorded(err error) bool {
	return c.Committed != "" && strings.Contains(err.Error(), "SQLSTATE 23505")
}
