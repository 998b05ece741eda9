package relay

import (
	"context"
	"time"

	"github.com/firstunicorn/outbox"
)

// Store is what the relay needs from the outbox table: leasing buckets, claiming batches
// and settling them. outboxstore.Store implements it over PostgreSQL, MySQL and SQLite;
// outboxtest.RunRelayStore checks an implementation against this contract.
//
// Ordering rests on buckets: every message is assigned to one of Buckets() buckets by its
// key. Leases spread the buckets over the relays; a Batch holds its buckets exclusively,
// so two batches never carry the same bucket at once, however late a relay is. (PostgreSQL: transaction-scoped advisory
// locks; MySQL: rows of a lock table locked in the batch's transaction; SQLite: a hold
// on the buckets that the batch's settlement checks.)
type Store interface {
	// Buckets is the fixed number of key buckets.
	Buckets() int
	// Heartbeat records that owner is alive for ttl and returns how many relays are.
	Heartbeat(ctx context.Context, owner string, ttl time.Duration) (alive int, err error)
	// RenewLeases extends owner's unexpired leases by ttl and returns their buckets.
	RenewLeases(ctx context.Context, owner string, ttl time.Duration) ([]int, error)
	// AcquireLeases leases up to n expired or free buckets to owner for ttl.
	AcquireLeases(ctx context.Context, owner string, ttl time.Duration, n int) ([]int, error)
	// ReleaseLeases frees owner's leases on buckets (nil = all) and, when leaving, its
	// heartbeat, so others take over at once instead of after expiry.
	ReleaseLeases(ctx context.Context, owner string, buckets []int, leaving bool) error

	// Claim opens a batch over those of p.Buckets that no other batch holds, with up to
	// p.Limit pending, available messages in commit order, skipping keys that have an
	// earlier message waiting for a retry (or, with HoldDeadKeys, a dead one). It returns
	// nil when there is nothing to claim. The caller must end a batch with Commit or
	// Rollback.
	Claim(ctx context.Context, p *ClaimParams) (Batch, error)
	// Purge deletes published messages older than age and returns how many.
	Purge(ctx context.Context, age time.Duration) (int64, error)
}

// Batch is a claimed set of messages whose buckets it holds until it ends. Marks take
// effect at Commit; Rollback (or a crash) leaves every message as it was.
type Batch interface {
	Records() []Record
	// MarkPublished deletes the messages, or keeps them as published when keep is true.
	MarkPublished(ctx context.Context, seqs []int64, keep bool) error
	// MarkFailed records a failed attempt with its error and schedules the next one, or,
	// for a permanent failure, moves the messages to the dead-letter state once they
	// reach MaxAttempts. It returns how many it dead-lettered.
	MarkFailed(ctx context.Context, p *FailParams) (dead int, err error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// ClaimParams selects a batch to claim.
type ClaimParams struct {
	Buckets []int
	Limit   int
	// HoldDeadKeys also skips keys that have a dead-lettered message.
	HoldDeadKeys bool
	// IdleTimeout ends the batch, and frees its buckets, when it waits on its caller
	// longer than this: a relay frozen mid-batch cannot hold its buckets for ever. The
	// relay passes its LeaseTTL. Zero = no limit.
	IdleTimeout time.Duration
}

// FailParams describes one failed attempt for a group of messages.
type FailParams struct {
	Seqs        []int64
	Error       string
	MaxAttempts int
	// Permanent failures count towards MaxAttempts; transient ones only back off.
	Permanent bool
	// The next attempt comes after min(MaxBackoff, Backoff*2^attempts), jittered to
	// between half and all of it.
	Backoff, MaxBackoff time.Duration
}

// Record is a claimed message.
type Record struct {
	Seq      int64
	Attempts int
	// WrittenAt is when the writer's transaction stored the message, by the database's
	// clock (PostgreSQL: the transaction's start).
	WrittenAt time.Time
	Message   outbox.Message
	// Redelivered marks a record of a Stream that an operator's retry sent again after
	// it was dead-lettered; under HoldKeyOnDead it releases its key.
	Redelivered bool
	// DecodeErr is set when the stored row could not be turned into a Message (a row
	// inserted by hand with bad headers, say); the relay dead-letters it at once.
	DecodeErr error
}

// Notifier is implemented by stores that can tell cheaply that messages may have been
// written: while messages flow, the relay polls Watermark every few milliseconds instead
// of waiting PollInterval; once quiet, it waits on a Listener where the store has one
// (PostgreSQL over pgx: LISTEN/NOTIFY), and otherwise polls Watermark every PollInterval.
type Notifier interface {
	// Watermark returns a number that changes whenever a message may have been written;
	// it must be cheap enough to call every few milliseconds.
	Watermark(ctx context.Context) (int64, error)
	// Listen opens a listener for one relay. A store that cannot wait for writes returns
	// a nil Listener and no error.
	Listen(ctx context.Context, owner string) (Listener, error)
}

// Listener waits for writes on behalf of one relay.
type Listener interface {
	// Wait returns when a write is announced, at once if the watermark is no longer
	// since, after timeout, or when ctx ends. Writers announce writes only to relays
	// that wait, so a busy relay costs them nothing.
	Wait(ctx context.Context, since int64, timeout time.Duration) error
	Close()
}
