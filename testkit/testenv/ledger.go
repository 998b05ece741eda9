package testenv

import "github.com/firstunicorn/outbox/testkit/ledger"

// The ledger lives in its own package so `outbox bench` can share it with the tests.
type (
	Ledger = ledger.Ledger
	Report = ledger.Report
)

var (
	Payload = ledger.Payload
	Verify  = ledger.Verify
)
