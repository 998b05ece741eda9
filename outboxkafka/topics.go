package outboxkafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/firstunicorn/outbox"
)

// topics remembers which topics the broker has confirmed to exist. franz-go retries a
// topic that does not exist for longer than a publish deadline, so a record for it
// would hold its whole batch, and the other keys in it, until the deadline, at every
// attempt. Instead, the first batch for a topic, and every batch for a topic last seen
// missing, asks the broker first (one metadata request) and fails a missing topic's
// records at once.
type topics struct {
	mu     sync.Mutex
	exists map[string]bool // true: confirmed; otherwise asked again before the next batch
}

// unconfirmed lists the topics of msgs not known to exist.
func (t *topics) unconfirmed(msgs []outbox.Message) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var names []string
	for i := range msgs {
		if name := msgs[i].Topic; !t.exists[name] && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func (t *topics) set(name string, exists bool) {
	t.mu.Lock()
	t.exists[name] = exists
	t.mu.Unlock()
}

// missing asks the broker about names, within ctx and at most 2 s, and returns those it
// says do not exist, remembering the answer; nil when the broker cannot be asked (an
// outage: the records then take the usual, transient path).
func (p *Publisher) missing(ctx context.Context, names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	req := kmsg.NewPtrMetadataRequest()
	// As franz-go's own metadata requests do: a client that lets the broker create
	// topics gets them created here too, not reported missing.
	req.AllowAutoTopicCreation, _ = p.client.OptValue(kgo.AllowAutoTopicCreation).(bool)
	for _, name := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := req.RequestWith(mctx, p.client)
	if err != nil {
		return nil
	}
	missing := map[string]bool{}
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		gone := errors.Is(kerr.ErrorForCode(rt.ErrorCode), kerr.UnknownTopicOrPartition)
		p.topics.set(*rt.Topic, !gone && rt.ErrorCode == 0)
		if gone {
			missing[*rt.Topic] = true
		}
	}
	return missing
}

func errMissingTopic(topic string) error {
	return fmt.Errorf("%w: topic %q does not exist (create it, or enable auto-creation): %w",
		outbox.ErrPermanent, topic, kerr.UnknownTopicOrPartition)
}

// markMissingTopics turns the transient failures of messages whose topic the broker
// says does not exist (deleted since it was confirmed) into permanent ones; without
// asking, such a message would look like an outage and be retried for ever instead of
// dead-lettered.
func (p *Publisher) markMissingTopics(ctx context.Context, msgs []outbox.Message, errs []error) {
	var names []string
	for i, err := range errs {
		if err != nil && !errors.Is(err, outbox.ErrPermanent) && !errors.Is(err, outbox.ErrSkipped) &&
			!slices.Contains(names, msgs[i].Topic) {
			names = append(names, msgs[i].Topic)
		}
	}
	// The publish deadline may have passed: that is often why these failed.
	missing := p.missing(context.WithoutCancel(ctx), names)
	for i, err := range errs {
		if err != nil && missing[msgs[i].Topic] && !errors.Is(err, outbox.ErrPermanent) && !errors.Is(err, outbox.ErrSkipped) {
			errs[i] = errMissingTopic(msgs[i].Topic)
		}
	}
}
