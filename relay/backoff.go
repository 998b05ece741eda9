package relay

import (
	"sync"
	"time"
)

// backoff is the relay-wide retry schedule. Workers share one client and one database,
// so a failure one of them sees (Kafka or PostgreSQL out of reach) is every worker's:
// they pause together, and the delay grows with the failures in a row of them all,
// rather than each worker piling retries into the client on a schedule of its own.
//
// It also paces the logs of a run of failures (an outage): its first failure, then at
// most one every logEvery, so an operator reads when it began and how long it lasts
// rather than a stream of identical retries; ok reports the run it ended.
type backoff struct {
	base, max time.Duration
	now       func() time.Time // time.Now; tests set it

	mu       sync.Mutex
	failures int
	until    time.Time
	since    time.Time // the run's first failure
	logged   time.Time // when the run was last logged
}

// logEvery is how often a run of failures is logged after its first.
const logEvery = 10 * time.Second

func (b *backoff) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// fail records a failure and pauses all workers for the next delay, jittered. It says
// whether to log this failure, when the run began, and how many failures it has had.
func (b *backoff) fail() (log bool, since time.Time, failures int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	if b.failures == 0 {
		b.since, b.logged = now, time.Time{}
	}
	b.failures++
	d := jitter(min(b.max, b.base<<min(b.failures-1, 16)))
	if next := now.Add(d); next.After(b.until) {
		b.until = next
	}
	log = b.logged.IsZero() || now.Sub(b.logged) >= logEvery
	if log {
		b.logged = now
	}
	return log, b.since, b.failures
}

// ok records a success: the next failure starts the schedule again. It returns the run
// of failures it ended (0 when there was none) and how long that lasted.
func (b *backoff) ok() (failures int, lasted time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	failures, b.failures = b.failures, 0
	if failures > 0 {
		lasted = b.clock().Sub(b.since)
	}
	return failures, lasted
}

// pause is how long workers must still wait.
func (b *backoff) pause() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.until.Sub(b.clock())
}

// failed records a failure in b and logs it with args when b says so: the first of a
// run, then one every logEvery, each with the run's failures and start.
func (r *Relay) failed(b *backoff, msg string, args ...any) {
	if log, since, n := b.fail(); log {
		r.log.Warn(msg, append(args, "failures", n, "failing_since", since.UTC().Format(time.RFC3339Nano))...)
	}
}

// recovered records a success in b and, when it ends a run of failures, logs that
// what recovered and after how long.
func (r *Relay) recovered(b *backoff, what string) {
	if n, lasted := b.ok(); n > 0 {
		r.log.Info(what+" recovered", "failures", n, "after", lasted.Round(time.Millisecond).String())
	}
}
