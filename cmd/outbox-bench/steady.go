package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/outboxstore"
)

// batchCounter counts the record batches a consumer reads: one per partition of each
// produce request the relay sent.
type batchCounter struct{ n atomic.Int64 }

func (c *batchCounter) OnFetchBatchRead(kgo.BrokerMetadata, string, int32, kgo.FetchBatchMetrics) {
	c.n.Add(1)
}

// steadyPerTx are the steady scenario's transaction sizes: a service that writes an
// event with each change, and one that writes a few.
var steadyPerTx = []int{1, 4}

// steady: one relay keeping up with writers that commit small transactions at fixed
// rates, as a relay spends its life in production, rather than draining a backlog. For
// each rate and transaction size it reports what a hundred thousand events cost the
// relay process and the database's work for the relay (its connections log in as
// relayRole, so the server's accounting tells them from the writers'), the statements
// and Kafka record batches per event, and the commit→consumer latency.
func (e *env) steady(ctx context.Context, rep *Report) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	note, err := e.prepareRelayRole(ctx)
	if err != nil {
		return err
	}
	defer e.endRelayRole(context.WithoutCancel(ctx))
	topic, drop, err := e.topic(ctx, "steady")
	if err != nil {
		return err
	}
	defer drop()
	var batches batchCounter
	arr, stopConsumer, err := e.arrivals(ctx, topic, &batches)
	if err != nil {
		return err
	}
	defer stopConsumer()
	url, err := relayURL(e.url)
	if err != nil {
		return err
	}
	proc, out, stopRelay, err := e.startRelay("--log-level", "warn", "--database-url", url)
	if err != nil {
		return err
	}
	defer stopRelay()
	ledgers := newLedgers(e.cfg.Writers)
	// Warm up: leases, connections, the producer and the topic's first produce.
	if _, _, err := e.paced(ctx, topic, min(500, e.cfg.Rates[0]), 1, arr, ledgers); err != nil {
		return err
	}
	if _, _, _, err := e.caughtUp(ctx, arr, topic, ledgers, out); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	drainCPU := rep.value(e.rowPrefix() + "relay.cpu_per_100k")
	for _, per := range steadyPerTx {
		for _, target := range e.cfg.Rates {
			u0, err := e.usage(ctx, proc.Process.Pid)
			if err != nil {
				return err
			}
			b0 := batches.n.Load()
			written, elapsed, err := e.paced(ctx, topic, target, per, arr, ledgers)
			if err != nil {
				return err
			}
			_, samples, handed, err := e.caughtUp(ctx, arr, topic, ledgers, out)
			if err != nil {
				return fmt.Errorf("at %d events/s, %d a transaction: %w", target, per, err)
			}
			u, err := e.usage(ctx, proc.Process.Pid)
			if err != nil {
				return err
			}
			e.steadyRows(rep, steadyPhase{
				name: fmt.Sprintf("steady.%dtx.%d_per_s", per, target), per: per, written: written,
				achieved: rate(written, elapsed), u0: u0, u: u, batches: batches.n.Load() - b0,
				samples: samples, handed: handed, drainCPU: drainCPU, note: note,
			})
		}
	}
	_, err = e.verify(ctx, topic, mergeLedgers(ledgers))
	return err
}

// steadyPhase is what one rate and transaction size measured.
type steadyPhase struct {
	name            string
	per, written    int
	achieved        float64
	u0, u           usage
	batches         int64
	samples, handed []time.Duration
	drainCPU        float64 // the same run's drain figure, relay CPU s per 100k; 0: not run
	note            string  // what this database cannot measure
}

func (e *env) steadyRows(rep *Report, p steadyPhase) {
	per100k := func(d time.Duration) float64 { return d.Seconds() * 100_000 / float64(p.written) }
	cpu := per100k(p.u.relayCPU - p.u0.relayCPU)
	vs := "no drain row in this run"
	if p.drainCPU > 0 {
		vs = fmt.Sprintf("%.1f× the drain's %.2f", cpu/p.drainCPU, p.drainCPU)
	}
	rep.add(p.name+".relay_cpu_per_100k", cpu, "CPU s", "relay process, %d events at %.0f/s, %d per tx; %s",
		p.written, p.achieved, p.per, vs)
	if e.db.Admin.Database() != outboxstore.SQLite {
		cpu, fresh := p.u.dbCPUSince(p.u0)
		rep.add(p.name+".db_cpu_per_100k", per100k(cpu), "CPU s", "the database's work for the relay's connections (%d backends, %d new)",
			len(p.u.backends), fresh)
	}
	if p.u.statements >= 0 && p.u0.statements >= 0 {
		rep.add(p.name+".statements_per_event", float64(p.u.statements-p.u0.statements)/float64(p.written), "statements",
			"the relay's, counted by the database")
	} else if p.note != "" {
		rep.add(p.name+".statements_per_event", -1, "statements", "%s", p.note)
	}
	rep.add(p.name+".kafka_batches_per_event", float64(p.batches)/float64(p.written), "batches",
		"record batches read by the consumer: one per partition of each produce request")
	slices.Sort(p.samples)
	slices.Sort(p.handed)
	rep.add(p.name+".p50", ms(pct(p.samples, 0.50)), "ms", "commit→consumer; commit→relay's Produce call p50 %.2fms", ms(pct(p.handed, 0.5)))
	rep.add(p.name+".p99", ms(pct(p.samples, 0.99)), "ms", "commit→consumer; commit→relay's Produce call p99 %.2fms", ms(pct(p.handed, 0.99)))
}

// rowPrefix is how this pass's rows are named once it ends ("wal." in WAL mode).
func (e *env) rowPrefix() string {
	if e.mode == outboxstore.WALMode {
		return "wal."
	}
	return ""
}
