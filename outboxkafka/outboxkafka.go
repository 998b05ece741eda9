// Package outboxkafka publishes outbox messages to Apache Kafka with a franz-go client
// the caller builds, so every client option (TLS, SASL, brokers) stays theirs.
package outboxkafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// Headers the publisher adds to every record, beside the message's own.
const (
	HeaderEventID       = outbox.HeaderPrefix + "event-id"
	HeaderEventType     = outbox.HeaderPrefix + "event-type"
	HeaderAggregateType = outbox.HeaderPrefix + "aggregate-type"
	HeaderAggregateID   = outbox.HeaderPrefix + "aggregate-id"
	HeaderOccurredAt    = outbox.HeaderPrefix + "occurred-at" // RFC 3339 with nanoseconds, UTC
)

// Config tunes the Publisher. A nil *Config means all defaults.
type Config struct {
	// AllowUnsafeClient accepts a client without idempotent writes or without acks=all.
	// Default false: such a client can lose or reorder acknowledged records, which
	// voids the outbox's guarantees.
	AllowUnsafeClient bool
}

// Publisher implements outbox.Publisher over a *kgo.Client. Records are keyed by the
// message key, so franz-go's default partitioner puts them where the Java client would
// (murmur2), and a key's records go to one partition in order.
type Publisher struct {
	client   *kgo.Client
	maxBytes int
	topics   topics
}

var _ outbox.Publisher = (*Publisher)(nil)

// New returns a Publisher over client. The caller keeps ownership of client and closes
// it after the relay stops.
func New(client *kgo.Client, cfg *Config) (*Publisher, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: outboxkafka: nil *kgo.Client", outbox.ErrInvalidConfig)
	}
	if cfg == nil {
		cfg = &Config{}
	}
	if !cfg.AllowUnsafeClient {
		if acks, _ := client.OptValue(kgo.RequiredAcks).(kgo.Acks); acks != kgo.AllISRAcks() {
			return nil, fmt.Errorf("%w: outboxkafka: the client must use kgo.RequiredAcks(kgo.AllISRAcks()) (the default)", outbox.ErrInvalidConfig)
		}
		if off, _ := client.OptValue(kgo.DisableIdempotentWrite).(bool); off {
			return nil, fmt.Errorf("%w: outboxkafka: the client must keep idempotent writes: drop kgo.DisableIdempotentWrite", outbox.ErrInvalidConfig)
		}
	}
	maxBytes, _ := client.OptValue(kgo.ProducerBatchMaxBytes).(int32)
	return &Publisher{client: client, maxBytes: int(maxBytes), topics: topics{exists: map[string]bool{}}}, nil
}

// ProducerOpts are the client options the outbox is built for, to pass to kgo.NewClient
// before the caller's own. franz-go's defaults already give idempotent writes, acks=all
// and the Java client's murmur2 partitioning; this adds:
//
//   - kgo.AllowIdempotentProduceCancellation, so that a publish gives up at its
//     deadline even while the network to the broker is gone, instead of waiting for it
//     to return. The cost: a record whose fate was unknown may be sent again, a
//     duplicate that at-least-once delivery allows anyway.
//   - kgo.ProducerLinger(0): the relay hands over whole batches, so franz-go's default
//     10ms linger would only add latency (records still batch behind a request in
//     flight).
func ProducerOpts() []kgo.Opt {
	return []kgo.Opt{kgo.AllowIdempotentProduceCancellation(), kgo.ProducerLinger(0)}
}

// cancelGrace is how long Publish waits past its context's end for franz-go to fail
// the records it still holds, before reporting them failed itself.
const cancelGrace = time.Second

// Publish implements outbox.Publisher. A message too large for the client's
// ProducerBatchMaxBytes, or for a topic the broker says does not exist (asked before
// the first batch for each topic), fails at once without being sent, and so that its
// key stays in order the later messages with its key in msgs are not sent either
// (outbox.ErrSkipped).
// Publish returns at most about a second after ctx ends; records without an outcome by
// then are reported failed with ctx's error (franz-go may still deliver them later:
// a possible duplicate, never a loss).
func (p *Publisher) Publish(ctx context.Context, msgs []outbox.Message) error {
	// pending starts with a token for this loop, so callbacks of records already sent
	// cannot bring it to zero before every record has been handed to the client.
	res := &results{errs: make([]error, len(msgs)), done: make(chan struct{}), pending: 1}
	failedKeys := map[string]bool{}
	fail := func(i int, err error) { // and keep the key's later messages back, in order
		res.errs[i] = err
		if k := msgs[i].Key; k != nil {
			failedKeys[string(k)] = true
		}
	}
	missing := p.missing(ctx, p.topics.unconfirmed(msgs))
	for i := range msgs {
		m := &msgs[i]
		if m.Key != nil && failedKeys[string(m.Key)] {
			res.errs[i] = outbox.ErrSkipped
			continue
		}
		if missing[m.Topic] {
			fail(i, errMissingTopic(m.Topic))
			continue
		}
		rec := Record(m)
		if size := recordSize(rec); p.maxBytes > 0 && size > p.maxBytes {
			fail(i, fmt.Errorf("%w: record of %d bytes is over the producer's %d-byte batch limit: %w",
				outbox.ErrPermanent, size, p.maxBytes, kerr.MessageTooLarge))
			continue
		}
		res.add()
		p.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { res.set(i, classify(err)) })
	}
	res.release()
	errs := res.wait(ctx)
	if errors.Join(errs...) == nil {
		return nil
	}
	p.markMissingTopics(ctx, msgs, errs)
	return &outbox.BatchError{Errs: errs}
}

// results collects Produce callbacks, which may come after Publish gave up waiting.
type results struct {
	mu      sync.Mutex
	errs    []error
	have    []bool
	pending int
	closed  bool
	done    chan struct{}
}

func (r *results) add() {
	r.mu.Lock()
	r.pending++
	r.mu.Unlock()
}

// release gives up the producing loop's token.
func (r *results) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done1()
}

func (r *results) set(i int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.have == nil {
		r.have = make([]bool, len(r.errs))
	}
	r.errs[i], r.have[i] = err, true
	r.done1()
}

// done1 counts one outcome in; r.mu is held.
func (r *results) done1() {
	r.pending--
	if r.pending == 0 {
		close(r.done)
	}
}

// wait returns the outcomes once all are in, or at ctx's end plus cancelGrace.
func (r *results) wait(ctx context.Context) []error {
	select {
	case <-r.done:
	case <-ctx.Done():
		t := time.NewTimer(cancelGrace)
		select {
		case <-r.done:
		case <-t.C:
		}
		t.Stop()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.pending > 0 {
		for i := range r.errs {
			if r.errs[i] == nil && (r.have == nil || !r.have[i]) {
				r.errs[i] = fmt.Errorf("no broker acknowledgement before the publish deadline: %w", context.Cause(ctx))
			}
		}
	}
	return r.errs
}

// Record builds the Kafka record for m: key, value, m's headers in name order, then the
// outbox headers.
func Record(m *outbox.Message) *kgo.Record {
	names := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	hs := make([]kgo.RecordHeader, 0, len(names)+5)
	for _, k := range names {
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(m.Headers[k])})
	}
	hs = append(hs, kgo.RecordHeader{Key: HeaderEventID, Value: []byte(m.ID.String())})
	for _, h := range [...]struct{ k, v string }{
		{HeaderEventType, m.Type}, {HeaderAggregateType, m.AggregateType}, {HeaderAggregateID, m.AggregateID},
	} {
		if h.v != "" {
			hs = append(hs, kgo.RecordHeader{Key: h.k, Value: []byte(h.v)})
		}
	}
	hs = append(hs, kgo.RecordHeader{Key: HeaderOccurredAt, Value: []byte(m.OccurredAt.UTC().Format(time.RFC3339Nano))})
	return &kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Payload, Headers: hs}
}

// recordSize is an upper bound of the record's encoded size in a batch.
func recordSize(r *kgo.Record) int {
	n := 128 + len(r.Key) + len(r.Value) // batch header and varints, generously
	for _, h := range r.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// permanentErrors are the broker answers that no retry of the same record can change.
var permanentErrors = []error{
	kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidTopicException,
	kerr.UnknownTopicOrPartition, kerr.TopicAuthorizationFailed, kerr.InvalidRecord,
	kerr.CorruptMessage, kerr.PolicyViolation, kerr.InvalidRequiredAcks,
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, p := range permanentErrors {
		if errors.Is(err, p) {
			return fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
		}
	}
	return err
}
