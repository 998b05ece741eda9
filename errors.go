package outbox

import (
	"errors"
	"fmt"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrInvalidMessage wraps every validation failure of a Message; the wrapping error
	// names the field and the fix.
	ErrInvalidMessage = errors.New("outbox: invalid message")

	// ErrInvalidConfig wraps every validation failure of a configuration struct.
	ErrInvalidConfig = errors.New("outbox: invalid config")

	// ErrNoDB is returned by Write when it is given a nil transaction or connection.
	ErrNoDB = errors.New("outbox: nil transaction or connection")

	// ErrTxDone is returned by Write when the caller's transaction was already committed
	// or rolled back: the events were not stored.
	ErrTxDone = errors.New("outbox: transaction already committed or rolled back")

	// ErrPermanent marks a publish error that retrying cannot fix (a record over the
	// broker's size limit, a topic that does not exist). Publishers wrap such errors with
	// it; the relay dead-letters a message after Config.MaxAttempts permanent failures,
	// while transient ones (broker down, timeouts) are retried with backoff for ever.
	ErrPermanent = errors.New("outbox: permanent publish error")

	// ErrSkipped is a Publisher's per-message error for a message it did not send because
	// an earlier message with the same key in the same call failed: sending it would
	// break the key's order. It is not a failed attempt of its own.
	ErrSkipped = errors.New("outbox: not sent: an earlier message with the same key failed")
)

// BatchError reports the per-message outcome of a Publisher.Publish call that failed for
// some of its messages. Errs has one entry per message, in order; nil means that message
// was acknowledged by the broker.
type BatchError struct {
	Errs []error
}

func (e *BatchError) Error() string {
	failed, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			failed++
		}
	}
	if first == nil {
		return "outbox: publish: no message failed"
	}
	return fmt.Sprintf("outbox: publish: %d of %d messages failed, first: %v", failed, len(e.Errs), first)
}

// Unwrap returns the per-message errors, so errors.Is finds any of them.
func (e *BatchError) Unwrap() []error { return e.Errs }
