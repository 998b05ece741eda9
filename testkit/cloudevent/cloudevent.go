// Package cloudevent reads a consumed Kafka record as the CloudEvents Go SDK's Kafka
// protocol binding does, so tests check our records against the SDK rather than
// against our own reading of the specification.
//
// It is part of this module's test kit (testkit/): not an API, and it changes with the
// tests.
package cloudevent

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNotCloudEvent is Parse's error for a record the SDK does not see as a CloudEvent.
var ErrNotCloudEvent = errors.New("not a CloudEvent")

// Parse reads r, in binary or structured mode, and validates the event.
func Parse(r *kgo.Record) (*event.Event, error) {
	hs := map[string][]byte{}
	for _, h := range r.Headers {
		hs[strings.ToLower(h.Key)] = h.Value
	}
	msg := kafka_sarama.NewMessage(r.Value, string(hs["content-type"]), hs)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return nil, fmt.Errorf("%w: headers %v", ErrNotCloudEvent, r.Headers)
	}
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		return nil, fmt.Errorf("the SDK cannot read the record: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("invalid CloudEvent: %w", err)
	}
	return ev, nil
}
