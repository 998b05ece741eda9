//go:build chaos

// Package chaos is the fault-injection suite: writers, relays and a verifier run as
// separate OS processes against the real PostgreSQL and Kafka, while the test kills,
// stops, restarts and cuts them off; then the verifier checks the topic against the
// writers' ledgers of committed events: nothing lost, each key in commit order,
// duplicates within the documented bound.
//
// It stops and restarts the shared services, so it runs alone, after the other tests:
// `make chaos` runs the full form (each scenario OUTBOX_CHAOS_RUNS times, default 3,
// Kafka stopped 30 s, 500k events at scale); `make test` ends with the short form
// (-short: one run each, smaller and shorter). OUTBOX_CHAOS_SEED replays a run's timing.
package chaos

import (
	"fmt"
	"os"
	"testing"

	"github.com/firstunicorn/outbox/testkit/testenv"
)

// outboxBin is the outbox command, built once for the relays and operator commands.
var outboxBin string

func TestMain(m *testing.M) {
	// The test binary is also the writer, verifier and inbox consumer processes.
	switch os.Getenv("OUTBOX_CHAOS_ROLE") {
	case "writer":
		os.Exit(runWriter())
	case "verifier":
		os.Exit(runVerifier())
	case "consumer":
		os.Exit(runConsumer())
	}
	bin, cleanup, err := testenv.BuildOutbox()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outboxBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}
