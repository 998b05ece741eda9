package outboxkafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// The defaults of ExactlyOnceConfig's zero fields.
const (
	DefaultProgressTopic      = "outbox-progress"
	DefaultProgressPartitions = 64
)

// ExactlyOnceConfig tunes an ExactlyOnce publisher.
type ExactlyOnceConfig struct {
	// ID names the outbox in Kafka and must be unique per outbox per cluster: the
	// producers' transactional ids are "<ID>-<unit>" and the progress records are keyed
	// "<ID>/<unit>". Two outboxes under one ID would fence each other's producers and
	// read each other's progress. Required.
	ID string
	// ProgressTopic holds each unit's progress: what its last transaction carried.
	// Created when missing, compacted, with ProgressPartitions partitions; a unit's
	// progress goes to partition unit % partitions, so the count must never change.
	// Default "outbox-progress".
	ProgressTopic string
	// ProgressPartitions is the partition count of a progress topic this publisher
	// creates. Default 64, one per key bucket.
	ProgressPartitions int
	// CloudEvents, when set, makes each record a CloudEvent, as Config.CloudEvents
	// does. The progress records stay as they are.
	CloudEvents *CloudEvents
}

// ExactlyOnce publishes for a relay with relay.Config.ExactlyOnce: in Kafka transactions,
// each unit of the relay's work (a key bucket, or WAL mode's stream) through a
// transactional producer of its own, whose transactional id the unit's next owner
// takes over, fencing the previous one: a relay that lost its unit cannot commit what
// it sent. Each transaction also writes the unit's progress, which the next owner reads
// back.
//
// It builds its own clients, one per unit held, from the options given to
// NewExactlyOnce. Only a relay calls its methods.
type ExactlyOnce struct {
	opts  []kgo.Opt
	cfg   ExactlyOnceConfig
	admin *kgo.Client // the progress topic's creation and reads

	topicMu sync.Mutex
	parts   int32 // the progress topic's partitions, once known

	mu    sync.Mutex
	units map[int]*Publisher // each over a client with the unit's transactional id
}

// NewExactlyOnce returns an ExactlyOnce publisher whose clients are built from opts
// (seed brokers, TLS, SASL and so on), after kgo.ProducerLinger(0) and before its own: a
// transactional id per unit, and a partitioner that sends the message keys where the
// default one does. It connects to nothing until the relay first uses it; Close closes
// every client.
func NewExactlyOnce(opts []kgo.Opt, cfg *ExactlyOnceConfig) (*ExactlyOnce, error) {
	c := ExactlyOnceConfig{}
	if cfg != nil {
		c = *cfg
	}
	if c.ID == "" {
		return nil, fmt.Errorf("%w: outboxkafka: ExactlyOnceConfig.ID is required: name the outbox, uniquely per Kafka cluster", outbox.ErrInvalidConfig)
	}
	if c.ProgressPartitions < 0 {
		return nil, fmt.Errorf("%w: outboxkafka: ProgressPartitions is negative: use a positive count, or 0 for %d", outbox.ErrInvalidConfig, DefaultProgressPartitions)
	}
	if c.ProgressTopic == "" {
		c.ProgressTopic = DefaultProgressTopic
	}
	if c.ProgressPartitions == 0 {
		c.ProgressPartitions = DefaultProgressPartitions
	}
	// Not ProducerOpts: franz-go refuses produce cancellation with transactions, whose
	// abort ends what a cancelled publish leaves.
	base := append([]kgo.Opt{kgo.ProducerLinger(0)}, opts...)
	admin, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("outboxkafka: %w", err)
	}
	if id, _ := admin.OptValue(kgo.TransactionalID).(string); id != "" {
		admin.Close()
		return nil, fmt.Errorf("%w: outboxkafka: drop kgo.TransactionalID from the options: ExactlyOnce sets one per unit", outbox.ErrInvalidConfig)
	}
	if _, err := New(admin, &Config{CloudEvents: c.CloudEvents}); err != nil { // the same checks as a Publisher's
		admin.Close()
		return nil, err
	}
	return &ExactlyOnce{opts: base, cfg: c, admin: admin, units: map[int]*Publisher{}}, nil
}

var _ outbox.Publisher = (*ExactlyOnce)(nil)

// errNotTransactional is Publish's error: ExactlyOnce publishes only through a relay's
// transactions.
var errNotTransactional = fmt.Errorf("%w: outboxkafka: ExactlyOnce publishes only inside a relay with relay.Config.ExactlyOnce", outbox.ErrInvalidConfig)

// Publish implements outbox.Publisher by refusing: an ExactlyOnce publisher sends only
// in the transactions of a relay with relay.Config.ExactlyOnce.
func (e *ExactlyOnce) Publish(context.Context, []outbox.Message) error { return errNotTransactional }

// Fence makes this publisher the unit's only producer: it starts the unit's producer,
// which bumps the epoch of its transactional id, so that any earlier producer of the
// unit (another relay's, or this one's before a failure) can no longer commit, and any
// transaction it left open is aborted. It then returns the unit's progress as the last
// committed transaction left it (nil when there is none).
func (e *ExactlyOnce) Fence(ctx context.Context, unit int) ([]byte, error) {
	if err := e.progressTopic(ctx); err != nil {
		return nil, err
	}
	e.Release(unit)
	opts := append(slices.Clone(e.opts),
		kgo.TransactionalID(e.cfg.ID+"-"+strconv.Itoa(unit)),
		kgo.RecordPartitioner(progressPartitioner{topic: e.cfg.ProgressTopic, keyed: kgo.StickyKeyPartitioner(nil)}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("outboxkafka: unit %d: %w", unit, err)
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("outboxkafka: unit %d: fence earlier producers: %w", unit, err)
	}
	progress, err := e.readProgress(ctx, unit)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("outboxkafka: unit %d: read progress: %w", unit, err)
	}
	pub, _ := New(cl, &Config{CloudEvents: e.cfg.CloudEvents}) // checked by NewExactlyOnce
	e.mu.Lock()
	e.units[unit] = pub
	e.mu.Unlock()
	return progress, nil
}

// Release closes the unit's producer, if any: the relay no longer publishes the unit.
func (e *ExactlyOnce) Release(unit int) {
	e.mu.Lock()
	pub := e.units[unit]
	delete(e.units, unit)
	e.mu.Unlock()
	if pub != nil {
		pub.client.Close()
	}
}

// Close closes every client.
func (e *ExactlyOnce) Close() {
	e.mu.Lock()
	units := e.units
	e.units = map[int]*Publisher{}
	e.mu.Unlock()
	for _, pub := range units {
		pub.client.Close()
	}
	e.admin.Close()
}

// progressPartitioner places progress records on the partition they name, and
// everything else by key, as the default partitioner does.
type progressPartitioner struct {
	topic string
	keyed kgo.Partitioner
}

func (p progressPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.topic {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.keyed.ForTopic(topic)
}

// errAborted is the failure of a message that was sent, in a transaction that then
// aborted: it is not visible to read_committed consumers, and goes again.
var errAborted = errors.New("its transaction was aborted")
