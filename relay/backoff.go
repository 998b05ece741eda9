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
// rather than a stream of identical retries. A success restarts the schedule at once,
// and ends the run once settle has passed since its last failure.
type backoff struct {
	base, max time.Duration
	// settle is how long without a failure a success needs to end the run: 0 for a
	// step that succeeds or fails whole (a lease sync, attaching to a stream); the
	// workers' logEvery, since in a fault of one broker batches that miss its
	// partitions succeed between those that fail, and the run would otherwise begin
	// and end with every other batch.
	settle time.Duration
	now    func() time.Time // time.Now; tests set it

	mu       sync.Mutex
	failures int // in a row, for the schedule
	until    time.Time
	run      int       // failures of the run being logged
	since    time.Time // the run's first failure
	last     time.Time // its latest
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

// failAndPause records a failure and pauses all workers for the next delay, jittered.
// It says whether to log this failure, when the run began, and how many failures it
// has had.
func (b *backoff) failAndPause() (log bool, since time.Time, failures int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	d := jitter(min(b.max, b.base<<min(b.failures-1, 16)))
	if next := b.clock().Add(d); next.After(b.until) {
		b.until = next
	}
	return b.countInRun()
}

// failWithoutPause records a failure in the run only, with no pause: a batch that
// published part of its events, whose failed ones wait for their own retry time in the
// store. It says what failAndPause says.
func (b *backoff) failWithoutPause() (log bool, since time.Time, failures int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.countInRun()
}

// countInRun counts a failure in the run and says whether its log is due; b.mu is held.
func (b *backoff) countInRun() (log bool, since time.Time, failures int) {
	now := b.clock()
	if b.run == 0 {
		b.since, b.logged = now, time.Time{}
	}
	b.run++
	b.last = now
	log = b.logged.IsZero() || now.Sub(b.logged) >= logEvery
	if log {
		b.logged = now
	}
	return log, b.since, b.run
}

// succeed records a success: the next failure starts the schedule again. When the
// success ends a run (settle without a failure), it returns the run's failures and how
// long they went on; otherwise 0.
func (b *backoff) succeed() (failures int, lasted time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	if b.run == 0 || b.clock().Sub(b.last) < b.settle {
		return 0, 0
	}
	failures, lasted = b.run, b.last.Sub(b.since)
	b.run = 0
	return failures, lasted
}

// pause is how long workers must still wait.
func (b *backoff) pause() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.until.Sub(b.clock())
}

// onFailure records a failure in b, pausing the workers, and logs it with args when b
// says so: the first of a run, then one every logEvery, each with the run's failures
// and start.
func (r *Relay) onFailure(b *backoff, msg string, args ...any) {
	r.logRun(msg, args, b.failAndPause)
}

// onPartialFailure is onFailure for a batch that published part of its events: logged
// in b's run, but no pause.
func (r *Relay) onPartialFailure(b *backoff, msg string, args ...any) {
	r.logRun(msg, args, b.failWithoutPause)
}

// logRun records a failure with fail and logs msg when fail says the log is due.
func (r *Relay) logRun(msg string, args []any, fail func() (bool, time.Time, int)) {
	if log, since, n := fail(); log {
		r.log.Warn(msg, append(args, "failures", n, "failing_since", since.UTC().Format(time.RFC3339Nano))...)
	}
}

// onSuccess records a success in b and, when it ends a run of failures, logs that
// what recovered, with the run's failures and how long they went on.
func (r *Relay) onSuccess(b *backoff, what string) {
	if n, lasted := b.succeed(); n > 0 {
		r.log.Info(what+" recovered", "failures", n, "failing_for", lasted.Round(time.Millisecond).String())
	}
}
