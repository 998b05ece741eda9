package relay

import (
	"errors"

	"github.com/firstunicorn/outbox/relay/source"
)

// Source is what a relay publishes from: an *outboxstore.Store, in table mode or WAL mode.
// Its one method hands the relay the store's side of their contract (package
// relay/source); applications pass the store and never call it.
type Source interface {
	RelaySource() (source.Outbox, error)
}

// ErrStreamLost is Run's error when WAL mode's replication slot lost events (it was
// invalidated by max_slot_wal_keep_size, or dropped): retrying cannot bring them back, so
// the relay stops, and the error says how to recover.
var ErrStreamLost = errors.New("stream lost events")
