//go:build chaos

package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/ledger"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// verifierConfig is what the verifier process checks, as JSON in OUTBOX_CHAOS_CONFIG.
type verifierConfig struct {
	Brokers []string
	Topics  []string
	Ledgers []string // the writers' ledger files
	Poison  bool     // the poison events are expected too (after a retry)
	Marks   []int64  // when each fault ended, Unix ms
	// Database, when set, is a file of the events whose transactions the database holds
	// at the end (JSON, key to numbers): the promoted primary's own ledger, against which
	// ghost events are counted (see databaseCheck).
	Database string
	Quiet    time.Duration
	Timeout  time.Duration
	// ReadCommitted reads as an exactly-once relay's consumers do; the records a
	// read_uncommitted reader gets are counted too, for contrast.
	ReadCommitted bool
}

// verdict is the verifier's report, printed as JSON.
type verdict struct {
	ledger.Report
	Committed, Transactions, FailedCommits int
	WriterErrors                           []string
	// Recovery, per fault: from its end until the last event whose transaction began
	// before that reached Kafka (0 when all had already).
	Recovery []time.Duration
	// Latency of first arrivals (broker append time - transaction start), held
	// transactions left out.
	P50, P99, MaxLatency time.Duration
	databaseCheck
	// Uncommitted is how many records a read_uncommitted reader got (ReadCommitted runs).
	Uncommitted int
	// SameEvent counts the duplicates that repeat an event id: sent twice by the relays.
	// The others are events the writers wrote twice, under two ids, after a commit that
	// failed yet took effect.
	SameEvent int
}

// databaseCheck compares the topic and the writers' ledgers with what the database
// holds after a failover, which may be less than the writers saw commit: with
// asynchronous replication the promoted standby lacks the old primary's last commits.
type databaseCheck struct {
	// Ghosts are events in Kafka whose transaction the database does not hold.
	Ghosts int
	// Unpublished are events the database holds that never reached Kafka: lost.
	Unpublished int
	// LostByDatabase are events whose commit a writer saw succeed and the database
	// does not hold: the commits a failover lost, nothing the relay could help.
	LostByDatabase int
}

// readHeld reads the verifier's Database file: per key, the numbers of its events the
// database holds.
func readHeld(file string) (map[string][]int, error) {
	var held map[string][]int
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &held)
	}
	if err != nil {
		return nil, fmt.Errorf("database's events %s: %w", file, err)
	}
	return held, nil
}

// check fills c from the database's events, the writers' ledger and the records.
func (c *databaseCheck) check(held map[string][]int, writers ledger.Ledger, recs []*kgo.Record) {
	in := map[string]bool{}
	for k, ns := range held {
		for _, n := range ns {
			in[k+"/"+strconv.Itoa(n)] = true
		}
	}
	got := map[string]bool{}
	for _, r := range recs {
		k, rest, _ := strings.Cut(string(r.Value), "/")
		n, _, _ := strings.Cut(rest, "/")
		id := k + "/" + n
		if !got[id] && !in[id] {
			c.Ghosts++
		}
		got[id] = true
	}
	for id := range in {
		if !got[id] {
			c.Unpublished++
		}
	}
	for k, count := range writers {
		for n := range count {
			if !in[k+"/"+strconv.Itoa(n)] {
				c.LostByDatabase++
			}
		}
	}
}

func runVerifier() int {
	var cfg verifierConfig
	if err := json.Unmarshal([]byte(os.Getenv("OUTBOX_CHAOS_CONFIG")), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "verifier config:", err)
		return 2
	}
	v, err := verify(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier:", err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(v)
	return 0
}

func verify(cfg verifierConfig) (verdict, error) {
	var v verdict
	all := ledger.Ledger{}
	for _, f := range cfg.Ledgers {
		l, err := readLedger(f)
		if err != nil {
			return v, err
		}
		parts := []ledger.Ledger{l.Main}
		if cfg.Poison {
			parts = append(parts, l.Missing, l.Big)
		}
		for _, p := range parts {
			for k, n := range p {
				all[k] = n
			}
		}
		v.Transactions += l.Transactions
		v.FailedCommits += l.FailedCommits
		v.WriterErrors = append(v.WriterErrors, l.Errors...)
	}
	slices.Sort(v.WriterErrors)
	v.WriterErrors = slices.Compact(v.WriterErrors)
	v.Committed = all.Total()
	// What must arrive: every committed event, or after a failover every event the
	// database holds, which may be fewer (asynchronous replication loses commits, and
	// the verifier would otherwise wait its whole timeout for them).
	expect := v.Committed
	var held map[string][]int
	if cfg.Database != "" {
		var err error
		if held, err = readHeld(cfg.Database); err != nil {
			return v, err
		}
		expect = 0
		for _, ns := range held {
			expect += len(ns)
		}
	}
	recs, err := consume(cfg, expect, cfg.ReadCommitted)
	if err != nil {
		return v, err
	}
	if cfg.ReadCommitted {
		uncommitted, err := consume(cfg, len(recs), false)
		if err != nil {
			return v, err
		}
		v.Uncommitted = len(uncommitted)
	}
	v.Report = ledger.Verify(all, recs)
	v.SameEvent = sameEvent(recs)
	v.timing(recs, cfg.Marks)
	if held != nil {
		v.databaseCheck.check(held, all, recs)
	}
	return v, nil
}

// consume reads the topics from the start until it has n records and none more come
// for cfg.Quiet (so late duplicates count), or until cfg.Timeout.
func consume(cfg verifierConfig, n int, committed bool) ([]*kgo.Record, error) {
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(cfg.Topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(isolation))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	recs := testenv.Drain(cl, n, cfg.Quiet, cfg.Timeout)
	for _, r := range recs {
		r.Value = r.Value[:min(len(r.Value), 64)] // keep "key/n/stamp", drop padding
	}
	return recs, nil
}

// timing computes recovery per fault and latency from each event's first arrival.
func (v *verdict) timing(recs []*kgo.Record, marks []int64) {
	seen := map[string]bool{}
	v.Recovery = make([]time.Duration, len(marks))
	var lat []time.Duration
	for _, r := range recs {
		parts := strings.Split(string(r.Value), "/")
		if len(parts) < 3 || seen[parts[0]+"/"+parts[1]] {
			continue
		}
		seen[parts[0]+"/"+parts[1]] = true
		began, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || (len(parts) > 3 && parts[3] == "held") {
			continue
		}
		arrived := r.Timestamp.UnixMilli()
		lat = append(lat, time.Duration(arrived-began)*time.Millisecond)
		for i, m := range marks {
			if began <= m {
				v.Recovery[i] = max(v.Recovery[i], time.Duration(arrived-m)*time.Millisecond)
			}
		}
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	v.P50, v.P99, v.MaxLatency = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
}

// poisonCount is how many poison events the writers committed.
func poisonCount(t *testing.T, ledgers []string) int {
	n := 0
	for _, f := range ledgers {
		l, err := readLedger(f)
		if err != nil {
			t.Fatal(err)
		}
		n += l.Missing.Total() + l.Big.Total()
	}
	return n
}

// readLedger reads the ledger a writer process left in file f.
func readLedger(f string) (writerLedger, error) {
	var l writerLedger
	b, err := os.ReadFile(f)
	if err == nil {
		err = json.Unmarshal(b, &l)
	}
	if err != nil {
		return l, fmt.Errorf("ledger %s: %w", f, err)
	}
	return l, nil
}

// sameEvent counts the records whose event id an earlier record had.
func sameEvent(recs []*kgo.Record) int {
	seen := map[string]bool{}
	n := 0
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key != outbox.HeaderEventID {
				continue
			}
			if seen[string(h.Value)] {
				n++
			}
			seen[string(h.Value)] = true
		}
	}
	return n
}
