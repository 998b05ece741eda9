package relay

import (
	"context"
	"time"

	"github.com/firstunicorn/outbox"
)

// Store is what the relay needs from the outbox table: claiming, settling and leasing.
// outboxpgx.Store and outboxsql.Store implement it; outboxtest.RunStoreTests checks an
// implementation against this contract.
//
// Ordering rests on buckets: every message is assigned to one of Buckets() buckets by its
// key, and a relay only claims from buckets it holds an unexpired lease on.
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
	// heartbeat and any message it still has claimed, so others take over at once
	// instead of after expiry.
	ReleaseLeases(ctx context.Context, owner string, buckets []int, leaving bool) error

	// Claim returns up to Limit pending, available messages from the given buckets in
	// commit order and claims them for TTL. It skips messages another owner claimed less
	// than TTL ago, and keys with such a message or with an earlier message waiting for
	// a retry, so that every key stays in order.
	Claim(ctx context.Context, p *ClaimParams) ([]Record, error)
	// MarkPublished deletes the messages, or keeps them as published when keep is true.
	MarkPublished(ctx context.Context, seqs []int64, keep bool) error
	// MarkFailed records a failed attempt with its error and schedules the next one, or,
	// for a permanent failure, moves the messages to the dead-letter state once they reach
	// MaxAttempts. It returns how many it dead-lettered.
	MarkFailed(ctx context.Context, p *FailParams) (dead int, err error)
	// Release returns claimed messages to pending without counting an attempt.
	Release(ctx context.Context, seqs []int64) error
	// Purge deletes published messages older than age and returns how many.
	Purge(ctx context.Context, age time.Duration) (int64, error)
}

// ClaimParams selects a batch to claim.
type ClaimParams struct {
	Owner   string
	Buckets []int
	Limit   int
	// TTL is how long the claim keeps other owners off the messages unless settled
	// first; the relay passes its LeaseTTL.
	TTL time.Duration
	// HoldDeadKeys also skips keys that have a dead-lettered message.
	HoldDeadKeys bool
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
	Message  outbox.Message
	// DecodeErr is set when the stored row could not be turned into a Message (a row
	// inserted by hand with bad headers, say); the relay dead-letters it at once.
	DecodeErr error
}
