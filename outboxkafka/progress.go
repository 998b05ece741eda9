package outboxkafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func (e *ExactlyOnce) progressKey(unit int) []byte {
	return []byte(e.cfg.ID + "/" + strconv.Itoa(unit))
}

func (e *ExactlyOnce) partition(unit int) int32 { return int32(unit % int(e.parts)) }

// progressTopic creates the progress topic if it is missing and learns its partition
// count, once.
func (e *ExactlyOnce) progressTopic(ctx context.Context) error {
	e.topicOnce.Lock()
	defer e.topicOnce.Unlock()
	if e.parts > 0 {
		return nil
	}
	adm := kadm.NewClient(e.admin)
	name := e.cfg.ProgressTopic
	_, err := adm.CreateTopic(ctx, int32(e.cfg.ProgressPartitions), -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, name)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("outboxkafka: create progress topic %s: %w", name, err)
	}
	details, err := adm.ListTopics(ctx, name)
	if err == nil {
		err = details.Error()
	}
	if err != nil {
		return fmt.Errorf("outboxkafka: progress topic %s: %w", name, err)
	}
	n := len(details[name].Partitions)
	if n == 0 {
		return fmt.Errorf("outboxkafka: progress topic %s has no partitions yet", name)
	}
	e.parts = int32(n)
	return nil
}

// readProgress returns the value of the unit's last committed progress record. All
// writes to the progress topic are transactional, so the record just before the last
// stable offset is a commit or abort marker; the partition is read back from there in
// growing windows until the unit's key turns up.
func (e *ExactlyOnce) readProgress(ctx context.Context, unit int) ([]byte, error) {
	adm := kadm.NewClient(e.admin)
	topic, part := e.cfg.ProgressTopic, e.partition(unit)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	end, ok := ends.Lookup(topic, part)
	start, ok2 := starts.Lookup(topic, part)
	if !ok || !ok2 || end.Err != nil || start.Err != nil {
		return nil, fmt.Errorf("offsets of %s/%d: %w", topic, part, errors.Join(end.Err, start.Err))
	}
	key := e.progressKey(unit)
	to := end.Offset
	for window := int64(64); to > start.Offset; window *= 4 {
		from := max(start.Offset, to-window)
		value, found, err := e.scan(ctx, part, from, to, key)
		if err != nil || found {
			return value, err
		}
		to = from
	}
	return nil, nil
}

// scan reads [from, to) of the progress partition, committed records only, and returns
// the last value under key.
func (e *ExactlyOnce) scan(ctx context.Context, part int32, from, to int64, key []byte) (value []byte, found bool, err error) {
	topic := e.cfg.ProgressTopic
	cl, err := kgo.NewClient(append(slices.Clone(e.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return nil, false, err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return nil, false, errs[0].Err
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done || r.Offset >= to {
				done = true
				return
			}
			if !r.Attrs.IsControl() && bytes.Equal(r.Key, key) {
				value, found = r.Value, true
			}
			done = r.Offset == to-1
		})
		if done {
			return value, found, nil
		}
	}
}
