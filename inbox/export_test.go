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
