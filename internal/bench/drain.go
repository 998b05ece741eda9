package bench

import (
	"context"
	"fmt"
	"time"
)

// drainScenario: one relay process drains a pre-filled backlog of DrainEvents.
func (e *env) drainScenario(ctx context.Context, rep *Report) error {
	run, err := e.drain(ctx, e.cfg.DrainEvents, 1, "drain")
	if err != nil {
		return err
	}
	n := e.cfg.DrainEvents
	r := rate(n, run.elapsed)
	rep.add("drain.1_relay", r, "events/s", "%d events, 1 relay process, default settings", n)
	if a, b := rep.value("limit.a.kafka_produce"), rep.value("limit.b.pg_claim_delete"); a > 0 && b > 0 {
		rep.add("drain.ratio_to_limit", r/min(a, b), "x", "drain / min(limit a, limit b); target >= 0.6")
	}
	rep.add("relay.peak_rss", run.peakRSSMB, "MiB", "relay process, during the drain")
	rep.add("relay.cpu_per_100k", run.cpu.Seconds()*100_000/float64(n), "CPU s", "relay process user+system per 100k events")
	return nil
}

// scale: 1, 2, 4... relay processes drain the same size of backlog; order is checked.
func (e *env) scale(ctx context.Context, rep *Report) error {
	n := e.cfg.DrainEvents / 2
	var one float64
	for _, relays := range e.cfg.Scale {
		run, err := e.drain(ctx, n, relays, "scale")
		if err != nil {
			return err
		}
		r := rate(n, run.elapsed)
		if relays == 1 {
			one = r
		}
		note := fmt.Sprintf("%d events, %d relay processes, lease TTL 3s, per-key order checked", n, relays)
		if one > 0 && relays > 1 {
			note += fmt.Sprintf("; %.2fx one relay", r/one)
		}
		rep.add(fmt.Sprintf("scale.%d_relays", relays), r, "events/s", "%s", note)
	}
	return nil
}

// drain pre-fills n events, lets relays processes publish them, and verifies the topic.
func (e *env) drain(ctx context.Context, n, relays int, name string) (relayRun, error) {
	if err := e.resetSchema(ctx); err != nil {
		return relayRun{}, err
	}
	topic, drop, err := e.topic(ctx, name)
	if err != nil {
		return relayRun{}, err
	}
	defer drop()
	l, err := e.prefill(ctx, topic, n)
	if err != nil {
		return relayRun{}, err
	}
	e.log.Info("backlog ready", "events", n, "relays", relays)
	run, err := e.runRelays(ctx, relays, 10*time.Minute, "--lease-ttl", "3s")
	if err != nil {
		return run, err
	}
	vr, err := e.verify(ctx, topic, l)
	e.log.Info("drained", "events", n, "relays", relays, "seconds", run.elapsed.Seconds(), "verify", vr.String())
	return run, err
}
