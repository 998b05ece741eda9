package inbox

import (
	"context"
	"time"
)

// PurgeRecords is the consumer's purge of the records older than the dedupe window,
// for the tests of package inbox_test.
func PurgeRecords(ctx context.Context, a *Admin, window time.Duration) (int64, error) {
	return a.purge(ctx, window)
}

// DeadLetter records m as group's dead event with cause, as a consumer does when its
// handler gives up.
func DeadLetter(ctx context.Context, a *Admin, group string, m *Message, cause error) error {
	return a.deadLetter(ctx, group, m, cause)
}
