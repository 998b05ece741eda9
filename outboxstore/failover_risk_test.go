package outboxstore_test

import (
	"strings"
	"testing"

	"github.com/firstunicorn/outbox/outboxstore"
)

func TestSlotFailoverRisk(t *testing.T) {
	ready := outboxstore.Slot{WALStatus: "reserved", ServerVersion: 170005, Failover: true, SynchronizedStandbySlots: "node2"}
	with := func(f func(*outboxstore.Slot)) outboxstore.Slot { s := ready; f(&s); return s }
	for _, tc := range []struct {
		name string
		slot outboxstore.Slot
		want string // "" = no risk
	}{
		{"ready", ready, ""},
		{"PostgreSQL 15", with(func(s *outboxstore.Slot) { s.ServerVersion, s.Failover = 150010, false }), "not failover-safe"},
		{"no slot", with(func(s *outboxstore.Slot) { s.WALStatus = "" }), "no slot"},
		{"not a failover slot", with(func(s *outboxstore.Slot) { s.Failover = false }), "not a failover slot yet"},
		{"no standby slots", with(func(s *outboxstore.Slot) { s.SynchronizedStandbySlots = "" }), "ghost events"},
		{"invalidated", with(func(s *outboxstore.Slot) { s.InvalidationReason = "wal_removed" }), "invalidated (wal_removed)"},
		{"standby synced", with(func(s *outboxstore.Slot) { s.Standby, s.Synced, s.SynchronizedStandbySlots = true, true, "" }), ""},
		{"standby not synced", with(func(s *outboxstore.Slot) { s.Standby, s.SynchronizedStandbySlots = true, "" }), "no synced copy"},
		{"standby without the slot", with(func(s *outboxstore.Slot) { s.Standby, s.WALStatus = true, "" }), "no synced copy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.slot.FailoverRisk()
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("FailoverRisk() = %q, want %q", got, tc.want)
			}
		})
	}
}
