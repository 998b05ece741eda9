package outboxstore

import (
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
)

func TestPrepareFillsDefaults(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := outbox.Message{Topic: "t"}
	if err := prepare(&m, outbox.Limits{}, now); err != nil {
		t.Fatal(err)
	}
	if m.ID.Version() != 7 || !m.OccurredAt.Equal(now) {
		t.Fatalf("prepare: id version %d, occurred %v", m.ID.Version(), m.OccurredAt)
	}
}
