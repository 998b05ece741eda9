package main

import (
	"context"
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/faultproxy"
)

// drainScenario: one relay process drains a pre-filled backlog of DrainEvents.
func (e *env) drainScenario(ctx context.Context, rep *Report) error {
	run, err := e.drain(ctx, e.cfg.DrainEvents, 1, "drain", e.cfg.Brokers)
	if err != nil {
		return err
	}
	n := e.cfg.DrainEvents
	r := rate(n, run.elapsed)
	rep.add("drain.1_relay", r, "events/s", "%d events, 1 relay process, default settings", n)
	switch a, b := rep.value("limit.a.kafka_produce"), rep.value("limit.b.claim_delete"); {
	case e.mode == outboxstore.WALMode && a > 0:
		rep.add("drain.ratio_to_limit", r/a, "x", "drain / limit a (Kafka's produce); target >= 100k events/s, or >= 0.6 when Kafka's limit is lower")
	case a > 0 && b > 0:
		rep.add("drain.ratio_to_limit", r/min(a, b), "x", "drain / min(limit a, limit b); target >= 0.6")
	}
	rep.add("relay.peak_rss", run.peakRSSMB, "MiB", "relay process, during the drain")
	rep.add("relay.cpu_per_100k", run.cpu.Seconds()*100_000/float64(n), "CPU s", "relay process user+system per 100k events")
	return nil
}

// scale: 1, 2, 4... relay processes drain the same size of backlog; order is checked.
func (e *env) scale(ctx context.Context, rep *Report) error {
	return e.scaleOut(ctx, rep, "scale", e.cfg.Brokers, "lease TTL 3s")
}

// remote: the same as scale with Kafka behind a proxy that delays every byte by
// RemoteDelay each way, as a broker in another zone would: what relays add when a relay
// waits on the network rather than on the database the load shares its cores with.
func (e *env) remote(ctx context.Context, rep *Report) error {
	proxy, err := faultproxy.Listen(e.cfg.ProxyAddr, e.cfg.ProxiedListener)
	if err != nil {
		return fmt.Errorf("remote: proxy on %s in front of Kafka's listener %s (scripts/services.sh starts it): %w",
			e.cfg.ProxyAddr, e.cfg.ProxiedListener, err)
	}
	defer proxy.Close()
	proxy.Delay(e.cfg.RemoteDelay)
	away := fmt.Sprintf("Kafka %s away each way", e.cfg.RemoteDelay)
	if err := e.scaleOut(ctx, rep, "remote", []string{proxy.Addr()}, away); err != nil {
		return err
	}
	// With one worker a relay has one batch in flight and waits on the network for it:
	// what more relays add when a relay, not the database, is the bottleneck.
	return e.scaleOut(ctx, rep, "remote_1_worker", []string{proxy.Addr()}, away+", 1 worker per relay", "--workers", "1")
}

func (e *env) scaleOut(ctx context.Context, rep *Report, name string, brokers []string, what string, relayArgs ...string) error {
	n := e.cfg.DrainEvents / 2
	var one float64
	for _, relays := range e.cfg.Scale {
		run, err := e.drain(ctx, n, relays, name, brokers, relayArgs...)
		if err != nil {
			return err
		}
		r := rate(n, run.elapsed)
		if relays == 1 {
			one = r
		}
		note := fmt.Sprintf("%d events, %d relay processes, %s, per-key order checked", n, relays, what)
		if one > 0 && relays > 1 {
			note += fmt.Sprintf("; %.2fx one relay", r/one)
		}
		rep.add(fmt.Sprintf("%s.%d_relays", name, relays), r, "events/s", "%s", note)
	}
	return nil
}

// drain pre-fills n events, lets relays processes publish them through brokers, and
// verifies the topic.
func (e *env) drain(ctx context.Context, n, relays int, name string, brokers []string, relayArgs ...string) (relayRun, error) {
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
	run, err := e.runRelays(ctx, relays, 10*time.Minute, brokers, append([]string{"--lease-ttl", "3s"}, relayArgs...)...)
	if err != nil {
		return run, err
	}
	vr, err := e.verify(ctx, topic, l)
	e.log.Info("drained", "events", n, "relays", relays, "seconds", run.elapsed.Seconds(), "verify", vr.String())
	return run, err
}
