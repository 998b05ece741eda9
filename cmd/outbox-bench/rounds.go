package main

import (
	"context"
	"fmt"
	"slices"
)

// drainVariant is one way of running a comparing drain: set changes the env for it
// and returns what restores it.
type drainVariant struct {
	name string
	set  func(e *env) (restore func())
}

// drainMedians drains n events once per variant per round (Config.DrainRounds), in
// rotating order, and returns each variant's median run (by elapsed time) and the
// range of its rates.
func (e *env) drainMedians(ctx context.Context, scenario string, n int, variants []drainVariant) ([]relayRun, []string, error) {
	runs := make([][]relayRun, len(variants))
	err := rotating(e.cfg.DrainRounds, len(variants), func(i int) error {
		restore := func() {}
		if variants[i].set != nil {
			restore = variants[i].set(e)
		}
		run, err := e.drain(ctx, n, 1, scenario, e.cfg.Brokers)
		restore()
		if err != nil {
			return fmt.Errorf("%s %s: %w", scenario, variants[i].name, err)
		}
		runs[i] = append(runs[i], run)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	medians, ranges := make([]relayRun, len(variants)), make([]string, len(variants))
	for i, rs := range runs {
		slices.SortFunc(rs, func(a, b relayRun) int { return int(a.elapsed - b.elapsed) })
		medians[i] = rs[len(rs)/2]
		ranges[i] = fmt.Sprintf("median of %d runs, %.1fk-%.1fk events/s", len(rs),
			float64(n)/rs[len(rs)-1].elapsed.Seconds()/1000, float64(n)/rs[0].elapsed.Seconds()/1000)
	}
	return medians, ranges, nil
}

// rotating runs each of n variants rounds times, the order rotating each round, so that
// the machine's drift during a scenario falls on every variant alike.
func rotating(rounds, n int, run func(i int) error) error {
	for round := range rounds {
		for k := range n {
			if err := run((k + round) % n); err != nil {
				return err
			}
		}
	}
	return nil
}
