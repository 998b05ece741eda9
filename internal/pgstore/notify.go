package pgstore

import (
	"context"
	"fmt"
)

// Watermark returns a number that grows whenever a message is inserted (the seq
// sequence): a relay polls it every few milliseconds while messages flow.
func (s *Store) Watermark(ctx context.Context) (int64, error) {
	var w int64
	if err := queryRow(ctx, s.db, s.q.watermark, nil, &w); err != nil {
		return 0, fmt.Errorf("watermark: %w", err)
	}
	return w, nil
}

// SetWaiting tells writers whether owner waits for a notification of their inserts.
func (s *Store) SetWaiting(ctx context.Context, owner string, waiting bool) error {
	if _, err := s.db.Exec(ctx, s.q.setWaiting, owner, waiting); err != nil {
		return fmt.Errorf("set waiting: %w", err)
	}
	return nil
}
