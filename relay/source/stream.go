package source

import (
	"context"

	"github.com/google/uuid"
)

// Stream is a log of committed messages in commit order that one relay reads at a time:
// WAL mode's replication slot.
type Stream interface {
	// Attach waits until owner may read the stream, which another relay may be reading,
	// then opens it at the first message not yet confirmed. An error wrapping
	// relay.ErrStreamLost means the stream has lost messages: the relay stops with it.
	Attach(ctx context.Context, owner string) (StreamReader, error)
	// Heartbeat writes a marker into the stream, so a quiet database's stream moves on.
	Heartbeat(ctx context.Context) error
}

// StreamReader is an attached stream. Its methods are called from one goroutine.
type StreamReader interface {
	// Next returns up to max records in commit order, waiting for the first, and the
	// position to Confirm once they and all records before them are sent or
	// dead-lettered (0: no transaction ended among them). Its error ends the reader.
	Next(ctx context.Context, max int) ([]Record, uint64, error)
	// Confirm tells the stream it need not send anything up to pos again.
	Confirm(pos uint64)
	// DeadLetter stores recs as dead events, each with its reason, where the operator's
	// dead, retry and purge commands find them.
	DeadLetter(ctx context.Context, recs []Record, reasons []string) error
	// DeadKeys maps each key that has a dead event to the id of its earliest one, for
	// HoldKeyOnDead.
	DeadKeys(ctx context.Context) (map[string]uuid.UUID, error)
	// Close detaches, so a standby takes over at once.
	Close()
}
