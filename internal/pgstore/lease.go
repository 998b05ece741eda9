package pgstore

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat implements relay.Store. It also forgets relays silent for 10 TTLs, so the
// table does not grow with every process that ever ran.
func (s *Store) Heartbeat(ctx context.Context, owner string, ttl time.Duration) (int, error) {
	if _, err := s.db.Exec(ctx, s.q.heartbeat, owner); err != nil {
		return 0, fmt.Errorf("heartbeat: %w", err)
	}
	if _, err := s.db.Exec(ctx, s.q.forget, "", 10*ttl.Seconds()); err != nil {
		return 0, fmt.Errorf("heartbeat: forget silent relays: %w", err)
	}
	var alive int
	if err := queryRow(ctx, s.db, s.q.alive, []any{ttl.Seconds()}, &alive); err != nil {
		return 0, fmt.Errorf("heartbeat: count relays: %w", err)
	}
	return alive, nil
}

// RenewLeases implements relay.Store.
func (s *Store) RenewLeases(ctx context.Context, owner string, ttl time.Duration) ([]int, error) {
	b, err := s.buckets(ctx, s.q.renew, owner, ttl.Seconds())
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	return b, nil
}

// AcquireLeases implements relay.Store.
func (s *Store) AcquireLeases(ctx context.Context, owner string, ttl time.Duration, n int) ([]int, error) {
	if n <= 0 {
		return nil, nil
	}
	b, err := s.buckets(ctx, s.q.acquire, owner, ttl.Seconds(), n)
	if err != nil {
		return nil, fmt.Errorf("acquire leases: %w", err)
	}
	return b, nil
}

// ReleaseLeases implements relay.Store.
func (s *Store) ReleaseLeases(ctx context.Context, owner string, buckets []int, leaving bool) error {
	var list any // NULL = all of owner's buckets
	if buckets != nil {
		list = intArray(buckets)
	}
	if _, err := s.db.Exec(ctx, s.q.releaseLeases, owner, list); err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	if leaving {
		if _, err := s.db.Exec(ctx, s.q.forget, owner, 1e9); err != nil {
			return fmt.Errorf("release leases: forget relay: %w", err)
		}
	}
	return nil
}

func (s *Store) buckets(ctx context.Context, q string, args ...any) ([]int, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var b int
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func queryRow(ctx context.Context, db DB, q string, args []any, dest ...any) error {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return fmt.Errorf("no row")
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Err()
}
