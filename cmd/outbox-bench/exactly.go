package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
)

// exactlyOnce measures relays with --exactly-once against at-least-once ones: the
// drain of DrainEvents both ways in rotating rounds (the ratio and the relay's CPU of
// the median runs), then the latency at the configured rates with a read_committed
// consumer (what such consumers see: a transaction's events appear at its commit),
// beside the latency scenario's at-least-once rows.
func (e *env) exactlyOnce(ctx context.Context, rep *Report) error {
	progress, drop, err := e.topic(ctx, "progress")
	if err != nil {
		return err
	}
	defer drop()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	flags := []string{"--exactly-once", "--outbox-id", "bench-" + hex.EncodeToString(b), "--progress-topic", progress}
	eos := drainVariant{name: "exactly_once", set: func(e *env) func() {
		saved := e.extraRelayArgs
		e.extraRelayArgs, e.readCommitted = append(slices.Clone(saved), flags...), true
		return func() { e.extraRelayArgs, e.readCommitted = saved, false }
	}}
	n := e.cfg.DrainEvents
	med, ranges, err := e.drainMedians(ctx, "exactly_once", n, []drainVariant{{name: "at_least_once"}, eos})
	if err != nil {
		return err
	}
	alo, x := rate(n, med[0].elapsed), rate(n, med[1].elapsed)
	rep.add("exactly_once.drain.at_least_once", alo, "events/s", "%d events, 1 relay process, at least once: %s", n, ranges[0])
	rep.add("exactly_once.drain.1_relay", x, "events/s", "the same with --exactly-once: %s", ranges[1])
	rep.add("exactly_once.drain_ratio", x/alo, "x", "exactly-once drain / at-least-once drain, medians of the same rounds; target >= 0.7")
	acpu, xcpu := med[0].cpu.Seconds()*100_000/float64(n), med[1].cpu.Seconds()*100_000/float64(n)
	rep.add("exactly_once.relay.cpu_per_100k", xcpu, "CPU s", "relay process user+system per 100k events, exactly-once (at least once: %.2f)", acpu)
	rep.add("exactly_once.cpu_ratio", xcpu/acpu, "x", "relay CPU per 100k events, exactly-once / at-least-once, the median runs")
	rep.add("exactly_once.relay.peak_rss", med[1].peakRSSMB, "MiB", "relay process, during the exactly-once drain")

	restore := eos.set(e)
	var sub Report
	err = e.latency(ctx, &sub)
	restore()
	for _, r := range sub.Rows {
		r.Scenario = "exactly_once." + r.Scenario
		rep.Rows = append(rep.Rows, r)
	}
	return err
}
