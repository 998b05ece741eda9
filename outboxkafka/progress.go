package outboxkafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

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
	e.topicMu.Lock()
	defer e.topicMu.Unlock()
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

// readProgress returns the value of the unit's last committed progress record, once
// the unit is fenced: every record of the unit is then below the partition's end, and
// decided once the last stable offset reaches that end (another unit's transaction
// open on a shared partition holds it back a moment). The partition is read back from
// the end in growing windows until the unit's key turns up; all writes to it are
// transactional, so a commit or abort marker ends it.
func (e *ExactlyOnce) readProgress(ctx context.Context, unit int) ([]byte, error) {
	adm := kadm.NewClient(e.admin)
	topic, part := e.cfg.ProgressTopic, e.partition(unit)
	end, err := offset(ctx, adm.ListEndOffsets, topic, part)
	if err != nil {
		return nil, err
	}
	for {
		stable, err := offset(ctx, adm.ListCommittedOffsets, topic, part)
		if err != nil {
			return nil, err
		}
		if stable >= end {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s/%d: a transaction stays open below offset %d: %w", topic, part, end, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	start, err := offset(ctx, adm.ListStartOffsets, topic, part)
	if err != nil {
		return nil, err
	}
	key := e.progressKey(unit)
	to := end
	for window := int64(64); to > start; window *= 4 {
		from := max(start, to-window)
		value, found, err := e.scan(ctx, part, from, to, key)
		if err != nil || found {
			return value, err
		}
		to = from
	}
	return nil, nil
}

// offset is one partition's offset as list reports it.
func offset(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topic string, part int32) (int64, error) {
	listed, err := list(ctx, topic)
	if err != nil {
		return 0, err
	}
	o, ok := listed.Lookup(topic, part)
	if !ok {
		return 0, fmt.Errorf("no offsets for %s/%d", topic, part)
	}
	if o.Err != nil {
		return 0, fmt.Errorf("offsets of %s/%d: %w", topic, part, o.Err)
	}
	return o.Offset, nil
}

// scan reads [from, to) of the progress partition, committed records only, and returns
// the last value under key. It stops at the first record it sees at or past to-1:
// records past to are visible (the partition is stable there), and one of them comes
// when the record at to-1 is an aborted one, which a read_committed fetch leaves out.
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
			done = r.Offset >= to-1
		})
		if done {
			return value, found, nil
		}
	}
}
