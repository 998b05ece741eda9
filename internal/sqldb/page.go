package sqldb

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// The operators' lists (dead letters of both halves) go by pages of rows in id order,
// each starting after the last row of the one before: a page costs its size, however
// deep it is.

// PageLimit and Cursor return errors the stores wrap in outbox.ErrInvalidConfig.

// PageLimit is a page's size from a caller's limit: 0 means 100, otherwise 1 to 1000.
func PageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return 100, nil
	case limit < 0 || limit > 1000:
		return 0, fmt.Errorf("limit %d: use 1 to 1000", limit)
	}
	return limit, nil
}

// Cursor is the row a page starts after, from the caller's After ("" is the start).
func Cursor(after string) (int64, error) {
	if after == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(after, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("After %q is not a page's Next", after)
	}
	return n, nil
}

// UnixMicro is t in Unix microseconds, 0 for the zero time: an open end of a range.
func UnixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// EachPage reads pages of rows by read (the rows after the one given, at most size)
// and runs act on each, until a page is short; it adds up what act counts. read must
// go by row id, so that what act changes does not move the next page.
func EachPage(ctx context.Context, size int, read func(ctx context.Context, after int64, size int) ([]int64, error),
	act func(ctx context.Context, rows []int64) (int64, error)) (int64, error) {
	var (
		total int64
		after int64
	)
	for {
		rows, err := read(ctx, after, size)
		if err != nil || len(rows) == 0 {
			return total, err
		}
		n, err := act(ctx, rows)
		total += n
		if err != nil || len(rows) < size {
			return total, err
		}
		after = rows[len(rows)-1]
	}
}
