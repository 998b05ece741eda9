// Package outboxkafka publishes outbox messages to Apache Kafka with a franz-go client
// the caller builds, so every client option (TLS, SASL, brokers) stays theirs.
package outboxkafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/kafkarecord"
)

// Config tunes the Publisher. A nil *Config means all defaults.
type Config struct {
	// AllowUnsafeClient accepts a client without idempotent writes or without acks=all.
	// Default false: such a client can lose or reorder acknowledged records, which
	// voids the outbox's guarantees.
	AllowUnsafeClient bool
	// CloudEvents, when set, makes each record a CloudEvent (binary mode unless
	// Structured). Default nil: the payload and the outbox-* headers only.
	CloudEvents *CloudEvents
}

// Publisher implements outbox.Publisher over a *kgo.Client. Records are keyed by the
// message key, so franz-go's default partitioner puts them where the Java client would
// (murmur2), and a key's records go to one partition in order. Each record carries the
// message's headers, in name order, then outbox.HeaderEventID and the other headers of
// package outbox.
type Publisher struct {
	client   *kgo.Client
	maxBytes int
	topics   topics
	ce       *CloudEvents // nil: plain records
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
	ce, err := cfg.CloudEvents.check()
	if err != nil {
		return nil, err
	}
	maxBytes, _ := client.OptValue(kgo.ProducerBatchMaxBytes).(int32)
	return &Publisher{client: client, maxBytes: int(maxBytes), topics: topics{exists: map[string]bool{}}, ce: ce}, nil
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
	return p.PublishAcked(ctx, msgs, nil)
}

// PublishAcked is Publish that also fills acks[i] with the partition and offset of
// each message the broker acknowledged; acks is nil or has len(msgs) entries.
func (p *Publisher) PublishAcked(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) error {
	if acks != nil && len(acks) != len(msgs) {
		return fmt.Errorf("outboxkafka: %d acks for %d messages", len(acks), len(msgs))
	}
	errs, _ := p.produce(ctx, msgs, acks)
	if errors.Join(errs...) == nil {
		return nil
	}
	p.markMissingTopics(ctx, msgs, errs)
	return &outbox.BatchError{Errs: errs}
}

// produce hands msgs to the client, in order, and waits for their outcomes. produced[i]
// says whether msgs[i] went to the client at all: a message that fails its checks (too
// large, a missing topic, a key that failed before it) does not.
func (p *Publisher) produce(ctx context.Context, msgs []outbox.Message, acks []outbox.Ack) (errs []error, produced []bool) {
	// pending starts with a token for this loop, so callbacks of records already sent
	// cannot bring it to zero before every record has been handed to the client.
	res := &results{errs: make([]error, len(msgs)), acks: acks, done: make(chan struct{}), pending: 1}
	produced = make([]bool, len(msgs))
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
		rec, err := p.ce.record(m)
		if err != nil {
			fail(i, fmt.Errorf("%w: %w", outbox.ErrPermanent, err))
			continue
		}
		if size := kafkarecord.Size(rec); p.maxBytes > 0 && size > p.maxBytes {
			fail(i, fmt.Errorf("%w: record of %d bytes is over the producer's %d-byte batch limit: %w",
				outbox.ErrPermanent, size, p.maxBytes, kerr.MessageTooLarge))
			continue
		}
		rec.Partition = -1 // franz-go sets it once it buffers the record; until then an error names none
		res.add()
		produced[i] = true
		p.client.Produce(ctx, rec, func(r *kgo.Record, err error) { res.set(i, r, p.locate(r, classify(err))) })
	}
	res.release()
	return res.wait(ctx), produced
}

// locate adds to a record's failure where it was headed: its partition, and that
// partition's leader in the client's metadata now. A cluster fault then reads in the
// relay's log and in dead letters as which broker and which partitions, not only as
// the broker's error code.
func (p *Publisher) locate(r *kgo.Record, err error) error {
	if err == nil || r.Partition < 0 {
		return err
	}
	leader := "none"
	if id, _, _ := p.client.PartitionLeader(r.Topic, r.Partition); id >= 0 {
		leader = fmt.Sprint("broker ", id)
	}
	return fmt.Errorf("%s partition %d (leader: %s): %w", r.Topic, r.Partition, leader, err)
}

// results collects Produce callbacks, which may come after Publish gave up waiting.
type results struct {
	mu      sync.Mutex
	errs    []error
	acks    []outbox.Ack // nil: not wanted
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

func (r *results) set(i int, rec *kgo.Record, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.have == nil {
		r.have = make([]bool, len(r.errs))
	}
	r.errs[i], r.have[i] = err, true
	if err == nil && r.acks != nil {
		r.acks[i] = outbox.Ack{Partition: rec.Partition, Offset: rec.Offset}
	}
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
