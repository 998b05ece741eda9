package inbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
)

// checkClient refuses a client that sets what the inbox's consumer client sets itself:
// the group and its topics, the partition callbacks through which the inbox finishes a
// partition's events before it lets go, and how offsets are committed (only after the
// handler's transaction). Every other option is the caller's.
func checkClient(cl *kgo.Client) error {
	if cl == nil {
		return fmt.Errorf("%w: inbox: NewConsumer needs a *kgo.Client (kgo.NewClient with your brokers, TLS and SASL): "+
			"the consumer's client starts from its options", outbox.ErrInvalidConfig)
	}
	var set []string
	if g, _ := cl.OptValue(kgo.ConsumerGroup).(string); g != "" {
		set = append(set, "ConsumerGroup")
	}
	if t, _ := cl.OptValue(kgo.ConsumeTopics).([]string); len(t) > 0 {
		set = append(set, "ConsumeTopics")
	}
	if p, _ := cl.OptValue(kgo.ConsumePartitions).(map[string]map[int32]kgo.Offset); len(p) > 0 {
		set = append(set, "ConsumePartitions")
	}
	for _, o := range []struct {
		name string
		opt  any
	}{{"ConsumeRegex", kgo.ConsumeRegex}, {"AutoCommitMarks", kgo.AutoCommitMarks}, {"DisableAutoCommit", kgo.DisableAutoCommit},
		{"BlockRebalanceOnPoll", kgo.BlockRebalanceOnPoll}} {
		if on, _ := cl.OptValue(o.opt).(bool); on {
			set = append(set, o.name)
		}
	}
	type callback = func(context.Context, *kgo.Client, map[string][]int32)
	for _, o := range []struct {
		name string
		opt  any
	}{{"OnPartitionsAssigned", kgo.OnPartitionsAssigned}, {"OnPartitionsRevoked", kgo.OnPartitionsRevoked},
		{"OnPartitionsLost", kgo.OnPartitionsLost}} {
		if f, _ := cl.OptValue(o.opt).(callback); f != nil {
			set = append(set, o.name)
		}
	}
	if len(set) > 0 {
		return fmt.Errorf("%w: inbox: the client sets %s: the inbox sets the consumer group's options on its own client "+
			"(ConsumerConfig.Group and Topics; offsets committed after each transaction): build the client without them",
			outbox.ErrInvalidConfig, strings.Join(set, ", "))
	}
	return nil
}
