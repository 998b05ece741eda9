package sqlite

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

func TestNames(t *testing.T) {
	t.Parallel()
	d, err := New("", "")
	if err != nil || d.Names().Qualified != `"outbox"` || d.Names().Vars["locks"] != `"outbox_locks"` {
		t.Fatalf("defaults: %+v, %v", d, err)
	}
	if _, err := New("main", "outbox"); !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), "leave Schema empty") {
		t.Errorf("a schema was accepted: %v", err)
	}
	for _, bad := range []string{"Outbox", `x"y`, "1x", strings.Repeat("a", 64)} {
		if _, err := New("", bad); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("table %q accepted: %v", bad, err)
		}
	}
}

// Keys spread over all 64 buckets, the same key always to the same bucket, and keyless
// messages by their id.
func TestBucket(t *testing.T) {
	t.Parallel()
	seen := map[int64]bool{}
	for i := range 10_000 {
		m := outbox.Message{Key: fmt.Appendf(nil, "order-%d", i)}
		b := bucket(&m)
		if b < 0 || b > 63 || b != bucket(&outbox.Message{Key: m.Key}) {
			t.Fatalf("bucket(%s) = %d", m.Key, b)
		}
		seen[b] = true
	}
	if len(seen) != 64 {
		t.Fatalf("10,000 keys reached %d of 64 buckets", len(seen))
	}
	a, b := outbox.Message{ID: uuid.Must(uuid.NewV7())}, outbox.Message{ID: uuid.Must(uuid.NewV7())}
	if bucket(&a) != bucket(&outbox.Message{ID: a.ID}) || (bucket(&a) == bucket(&b) && bucket(&a) == bucket(&outbox.Message{})) {
		t.Fatalf("keyless messages do not hash by id")
	}
}

// A full statement of Insert stays within SQLite's 32766 bound parameters.
func TestInsertWithinParameterLimit(t *testing.T) {
	t.Parallel()
	d, _ := New("", "")
	msgs := make([]outbox.Message, maxRowsPerInsert)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "t", OccurredAt: time.Now()}
	}
	if _, args := d.insert(msgs); len(args) > 32766 || len(args) != maxRowsPerInsert*insertCols {
		t.Fatalf("%d messages take %d parameters", len(msgs), len(args))
	}
}
