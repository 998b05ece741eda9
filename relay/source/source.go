// Package source is the contract between a relay and the outbox it publishes from: the
// outbox table that relays share through leased key buckets (Store, table mode), or the
// stream of committed events that one relay reads at a time (Stream, WAL mode).
//
// Applications never use it: they pass an *outboxstore.Store to relay.New, and the store
// hands the relay its side of this contract. It is this module's seam between the two,
// kept in a package of its own so that the store's and the relay's documentation show
// only what their users call. The API is unstable: it changes whenever the relay's
// protocol does, without notice in the changelog, and it is not meant to be implemented
// outside this module.
package source

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

// Outbox is an outbox as a relay reads it: exactly one of Table (table mode) and Stream
// (WAL mode) is set.
type Outbox struct {
	Table  Store
	Stream Stream
}

// Store is the outbox table as the relay works it: leasing buckets, claiming batches and
// settling them.
//
// Ordering rests on buckets: every message is assigned to one of Buckets() buckets by
// its key. Leases spread the buckets over the relays; a Batch holds its buckets
// exclusively, so two batches never carry the same bucket at once, however late a relay
// is. (PostgreSQL: transaction-scoped advisory locks; MySQL: rows of a lock table locked
// in the batch's transaction; SQLite: a hold on the buckets that the batch's settlement
// checks.)
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
	// MarkCarried marks published those rows that have one of seqs and one of ids
	// (kept as published when keep is true): rows a committed Kafka transaction
	// carried, whatever their state, if they still are the same events.
	MarkCarried(ctx context.Context, seqs []int64, ids []uuid.UUID, keep bool) error
	// MarkFailed records a failed attempt with its error and schedules the next one, or,
	// for a permanent failure, moves the messages to the dead-letter state once they
	// reach MaxAttempts. It returns how many it dead-lettered.
	MarkFailed(ctx context.Context, p *FailParams) (dead int, err error)
	// Keep returns nil when the batch still holds its buckets, so that no other batch
	// has claimed them since this one did, and goes on holding them; an error means it
	// may have lost them.
	Keep(ctx context.Context) error
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
	// Durable makes the batch's commit wait until it is on disk, where a store would
	// otherwise trade that for speed (PostgreSQL: synchronous_commit off): an
	// exactly-once relay's events are in Kafka by then, and a settlement lost in a
	// crash would send them again.
	Durable bool
	// Busy says the relay's last claim found events: the store may skip its look
	// whether anything is claimable (which saves an idle relay a transaction, and costs
	// a busy one a round trip).
	Busy bool
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
	Seq int64
	// Bucket is the key bucket of a table's record (table mode).
	Bucket int
	// Pos is a stream's record's place in the stream (WAL mode).
	Pos      Pos
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
