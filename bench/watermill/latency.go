package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"
)

// latency publishes through the forwarder at rate messages/s for dur on 4 writers while
// the forwarder runs, and measures, as `outbox bench` does, each message's time from the
// moment its insert returned to the moment a consumer read it (matched by message UUID).
func latency(ctx context.Context, dbURL string, brokers []string, rate int, dur time.Duration, payloadBytes, keys int) ([]row, error) {
	r, err := newRig(ctx, dbURL, brokers)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	r.run(rctx)

	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(r.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	var (
		mu        sync.Mutex
		committed = map[string]time.Time{}
		early     = map[string]bool{}
		samples   []time.Duration
	)
	go func() {
		for rctx.Err() == nil {
			fs := consumer.PollFetches(rctx)
			now := time.Now()
			fs.EachRecord(func(rec *kgo.Record) {
				for _, h := range rec.Headers {
					if h.Key != kafka.UUIDHeaderKey {
						continue
					}
					mu.Lock()
					if t, ok := committed[string(h.Value)]; ok {
						samples = append(samples, now.Sub(t))
						delete(committed, string(h.Value))
					} else {
						early[string(h.Value)] = true
					}
					mu.Unlock()
				}
			})
		}
	}()

	const writers = 4
	interval := time.Duration(float64(time.Second) * writers / float64(rate))
	pad := make([]byte, payloadBytes)
	// phase writes at rate for d and waits until every message arrived; it returns how
	// many it wrote, for how long, and how long the arrivals took after the last write.
	phase := func(d time.Duration) (written int, elapsed, caughtUp time.Duration, err error) {
		var (
			wg    sync.WaitGroup
			first error
		)
		start := time.Now()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for next := start; time.Since(start) < d; next = next.Add(interval) {
					if dd := time.Until(next); dd > 0 {
						time.Sleep(dd)
					}
					m := message.NewMessage(watermill.NewUUID(), pad)
					m.Metadata.Set("partition_key", fmt.Sprintf("w%d-k%d", w, n%(keys/writers)))
					if err := r.pub.Publish(r.topic, m); err != nil {
						mu.Lock()
						first = err
						mu.Unlock()
						return
					}
					mu.Lock()
					if early[m.UUID] {
						delete(early, m.UUID)
						samples = append(samples, 0)
					} else {
						committed[m.UUID] = time.Now()
					}
					written++
					mu.Unlock()
					n++
				}
			}()
		}
		wg.Wait()
		elapsed = time.Since(start)
		if first != nil {
			return 0, 0, 0, first
		}
		waitStart := time.Now()
		for {
			mu.Lock()
			left := len(committed)
			mu.Unlock()
			if left == 0 {
				return written, elapsed, time.Since(waitStart), nil
			}
			if time.Since(waitStart) > 5*time.Minute {
				return 0, 0, 0, fmt.Errorf("%d of %d messages had not reached Kafka's consumer 5 minutes later", left, written)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Warm up, as `outbox bench` does: connections, producer and topic metadata are
	// start-up costs, not the forwarder's latency.
	if _, _, _, err := phase(time.Second); err != nil {
		return nil, err
	}
	mu.Lock()
	samples = nil
	mu.Unlock()
	written, elapsed, caughtUp, err := phase(dur)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(samples)
	pct := func(p float64) float64 {
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	achieved := float64(written) / elapsed.Seconds()
	kept := achieved >= 0.95*float64(rate) && caughtUp < 2*time.Second
	name := fmt.Sprintf("watermill.latency.%d_per_s", rate)
	return []row{
		{name + ".p50", pct(0.5), "ms", fmt.Sprintf("Watermill forwarder, insert→consumer, %d messages, 1 per insert", len(samples))},
		{name + ".p99", pct(0.99), "ms", fmt.Sprintf("writers achieved %.0f messages/s; kept up: %v", achieved, kept)},
		{name + ".max", pct(1), "ms", ""},
	}, nil
}
