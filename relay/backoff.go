package relay

import (
	"sync"
	"time"
)

// backoff is the relay-wide retry schedule. Workers share one client and one database,
// so a failure one of them sees (Kafka or PostgreSQL out of reach) is every worker's:
// they pause together, and the delay grows with the failures in a row of them all,
// rather than each worker piling retries into the client on a schedule of its own.
type backoff struct {
	base, max time.Duration

	mu       sync.Mutex
	failures int
	until    time.Time
}

// fail records a failure and pauses all workers for the next delay, jittered.
func (b *backoff) fail() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	d := jitter(min(b.max, b.base<<min(b.failures-1, 16)))
	if next := time.Now().Add(d); next.After(b.until) {
		b.until = next
	}
}

// ok records a success: the next failure starts the schedule again.
func (b *backoff) ok() {
	b.mu.Lock()
	b.failures = 0
	b.mu.Unlock()
}

// pause is how long workers must still wait.
func (b *backoff) pause() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Until(b.until)
}

// count is the failures in a row, for logs.
func (b *backoff) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}
