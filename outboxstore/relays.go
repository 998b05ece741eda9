package outboxstore

import (
	"context"
	"fmt"
	"time"
)

// Relay is a table-mode relay as its heartbeats and leases show it.
type Relay struct {
	ID string `json:"id"`
	// HeartbeatAge is how long ago it last said it was alive, by the database's clock;
	// negative when its heartbeat is gone (another relay forgot it) while its leases
	// last.
	HeartbeatAge time.Duration `json:"heartbeat_age"`
	// Version is its go-outbox version: a module version, "(devel)" when built inside
	// go-outbox's own checkout; "" when it predates the column (or is gone).
	Version string `json:"version"`
	// Buckets are the key buckets it holds a live lease on: the keys it publishes.
	Buckets []int `json:"buckets"`
}

// Leases is who publishes which keys in table mode: the relays, and the buckets no
// live lease holds, whose events wait until a relay takes them. (A WAL-mode relay reads
// the slot, whose reader Slot shows, and takes no leases.)
type Leases struct {
	Relays  []Relay `json:"relays"`
	Unowned []int   `json:"unowned"`
}

// Leases returns the relays and the buckets they hold.
func (a *Admin) Leases(ctx context.Context) (Leases, error) {
	var l Leases
	q, args := a.c.q["relays"].Bind()
	rows, err := a.c.db.Query(ctx, q, args...)
	if err != nil {
		return l, fmt.Errorf("outbox: relays: %w", err)
	}
	byID := map[string]int{}
	for rows.Next() {
		var (
			r   Relay
			age float64
		)
		if err := rows.Scan(&r.ID, &age, &r.Version); err != nil {
			rows.Close()
			return l, fmt.Errorf("outbox: relays: %w", err)
		}
		r.HeartbeatAge, r.Buckets = seconds(age), []int{}
		byID[r.ID] = len(l.Relays)
		l.Relays = append(l.Relays, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("outbox: relays: %w", err)
	}
	q, args = a.c.q["leases"].Bind()
	if rows, err = a.c.db.Query(ctx, q, args...); err != nil {
		return l, fmt.Errorf("outbox: leases: %w", err)
	}
	defer rows.Close()
	l.Unowned = []int{}
	for rows.Next() {
		var (
			bucket int
			owner  string
			live   bool
		)
		if err := rows.Scan(&bucket, &owner, &live); err != nil {
			return l, fmt.Errorf("outbox: leases: %w", err)
		}
		i, known := byID[owner]
		switch {
		case live && known:
			l.Relays[i].Buckets = append(l.Relays[i].Buckets, bucket)
		case live: // held by a relay whose heartbeat row is gone: it still publishes them
			byID[owner] = len(l.Relays)
			l.Relays = append(l.Relays, Relay{ID: owner, HeartbeatAge: -1, Buckets: []int{bucket}})
		default:
			l.Unowned = append(l.Unowned, bucket)
		}
	}
	return l, rows.Err()
}
