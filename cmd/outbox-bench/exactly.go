package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
)

// exactlyOnce measures relays with --exactly-once beside the at-least-once rows of the
// same run: the drain of DrainEvents (with its ratio to drain.1_relay and the relay's
// CPU), and the latency at the configured rates, read by a read_committed consumer
// (what such consumers see: a transaction's events appear at its commit).
func (e *env) exactlyOnce(ctx context.Context, rep *Report) error {
	progress, drop, err := e.topic(ctx, "progress")
	if err != nil {
		return err
	}
	defer drop()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	saved := e.extraRelayArgs
	e.extraRelayArgs = append(slices.Clone(saved), "--exactly-once", "--outbox-id", "bench-"+hex.EncodeToString(b), "--progress-topic", progress)
	e.readCommitted = true
	defer func() { e.extraRelayArgs, e.readCommitted = saved, false }()

	var sub Report
	err = e.drainScenario(ctx, &sub)
	if err == nil {
		err = e.latency(ctx, &sub)
	}
	for _, r := range sub.Rows {
		r.Scenario = "exactly_once." + r.Scenario
		rep.Rows = append(rep.Rows, r)
	}
	if err != nil {
		return err
	}
	if a, x := rep.value("drain.1_relay"), sub.value("drain.1_relay"); a > 0 && x > 0 {
		rep.add("exactly_once.drain_ratio", x/a, "x", "exactly-once drain / at-least-once drain.1_relay, same run; target >= 0.7")
	}
	if a, x := rep.value("relay.cpu_per_100k"), sub.value("relay.cpu_per_100k"); a > 0 && x > 0 {
		rep.add("exactly_once.cpu_ratio", x/a, "x", "relay CPU per 100k events, exactly-once / at-least-once (%.2f / %.2f CPU s)", x, a)
	}
	return nil
}
