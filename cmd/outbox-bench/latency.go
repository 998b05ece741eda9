package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/testkit/ledger"
)

// latency: writers commit at fixed rates while one relay process runs; each event's
// commit→arrival time is measured in this process (one clock): the commit time is taken
// right after Commit returns, the arrival when a consumer reads the record.
func (e *env) latency(ctx context.Context, rep *Report) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	topic, drop, err := e.topic(ctx, "latency")
	if err != nil {
		return err
	}
	defer drop()
	warm := false
	arr, stopConsumer, err := e.arrivals(ctx, topic)
	if err != nil {
		return err
	}
	defer stopConsumer()
	_, relayOut, stopRelay, err := e.startRelay("--log-level", "warn")
	if err != nil {
		return err
	}
	defer stopRelay()
	ledgers := newLedgers(e.cfg.Writers)
	// Warm up: the relay's leases, connections and producer, and the topic's first
	// produce, are start-up costs, not the latency of a running relay.
	for _, target := range append([]int{min(500, e.cfg.Rates[0])}, e.cfg.Rates...) {
		written, elapsed, err := e.paced(ctx, topic, target, perTx(target), arr, ledgers)
		if err != nil {
			return err
		}
		caughtUp, samples, handed, err := e.caughtUp(ctx, arr, topic, ledgers, relayOut)
		if err != nil {
			return fmt.Errorf("at %d events/s: %w", target, err)
		}
		if !warm {
			warm = true
			continue
		}
		slices.Sort(samples)
		achieved := rate(written, elapsed)
		kept := achieved >= 0.95*float64(target) && caughtUp < 2*time.Second
		name := fmt.Sprintf("latency.%d_per_s", target)
		rep.add(name+".p50", ms(pct(samples, 0.50)), "ms", "commit→Kafka ack→consumer, %d events", len(samples))
		rep.add(name+".p99", ms(pct(samples, 0.99)), "ms", "writers achieved %.0f events/s (%d per tx); kept up: %v",
			achieved, perTx(target), yes(kept))
		rep.add(name+".max", ms(samples[len(samples)-1]), "ms", "")
		slices.Sort(handed)
		rep.add(name+".to_producer_p99", ms(pct(handed, 0.99)), "ms", "commit→relay's Produce call (record timestamp): the outbox's own part, p50 %.2fms", ms(pct(handed, 0.5)))
	}
	if out := relayOut.String(); strings.Contains(out, "level=WARN") {
		warns := strings.Count(out, "level=WARN")
		first, _, _ := strings.Cut(out[strings.Index(out, "level=WARN"):], "\n")
		rep.add("latency.relay_warnings", float64(warns), "lines", "first: %s", first)
	}
	if _, err := e.verify(ctx, topic, mergeLedgers(ledgers)); err != nil {
		return err
	}
	return e.kafkaControl(ctx, rep, slices.Max(e.cfg.Rates))
}

func mergeLedgers(ls []ledger.Ledger) ledger.Ledger {
	all := ledger.Ledger{}
	for _, l := range ls {
		for k, v := range l {
			all[k] = v
		}
	}
	return all
}

// paced has up to Writers writers commit per events a transaction at target events/s in
// all, for Duration, each on its own keys; it returns how many it wrote and how long it
// took.
func (e *env) paced(ctx context.Context, topic string, target, per int, arr *arrivals, ledgers []ledger.Ledger) (int, time.Duration, error) {
	writers := min(e.cfg.Writers, max(1, target/250))
	interval := time.Duration(float64(time.Second) * float64(writers) / float64(target))
	interval *= time.Duration(per)
	pad := bytes.Repeat([]byte("x"), max(e.cfg.PayloadBytes-16, 0))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, n := ledgers[w], 0
			for next := start; time.Since(start) < e.cfg.Duration && ctx.Err() == nil; next = next.Add(interval) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				msgs := make([]outbox.Message, per)
				for j := range msgs {
					key := fmt.Sprintf("w%d-k%d", w, (n+j)%max(1, e.cfg.Keys/writers))
					msgs[j] = outbox.Message{ID: uuid.Must(uuid.NewV7()), Topic: topic, Key: []byte(key), Type: "bench",
						Payload: append(append(l.Add(key), '/'), pad...)}
				}
				if err := e.db.InTx(ctx, func(tx dburl.Tx) error { return tx.Write(ctx, msgs...) }); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				for _, m := range msgs {
					arr.commit(m.ID)
				}
				n += per
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total, time.Since(start), first
}

// perTx is how many events paced commits per transaction at target events/s: one up
// to 1000/s, then as many as keep the database at 1000 commits/s. One event per
// transaction is bound by commit fsyncs (limit c); a service emitting thousands of
// events a second emits several per transaction.
func perTx(target int) int { return max(1, target/1000) }

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
