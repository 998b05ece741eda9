package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaControl measures Kafka alone at rate records/s for Duration: produced with the
// relay's settings, read by a consumer like the latency scenario's, no outbox. It is
// the floor under the latency rows: what they cannot go below on this machine.
func (e *env) kafkaControl(ctx context.Context, rep *Report, rate int) error {
	topic, drop, err := e.topic(ctx, "control")
	if err != nil {
		return err
	}
	defer drop()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer consumer.Close()
	val := make([]byte, e.cfg.PayloadBytes)
	for p := int32(0); p < 8; p++ { // warm up: metadata and every partition's leader
		if err := e.client.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte("0"), Value: val}).FirstErr(); err != nil {
			return err
		}
	}
	n := int(float64(rate) * e.cfg.Duration.Seconds())
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seen := 0; seen < n+8 && ctx.Err() == nil; {
			fs := consumer.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				seen++
				if ns, _ := strconv.ParseInt(string(r.Key), 10, 64); ns > 1 {
					mu.Lock()
					lat = append(lat, now.Sub(time.Unix(0, ns)))
					mu.Unlock()
				}
			})
		}
	}()
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		e.client.Produce(ctx, &kgo.Record{Topic: topic, Key: strconv.AppendInt(nil, time.Now().UnixNano(), 10), Value: val}, nil)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		return fmt.Errorf("kafka control: consumer did not read %d records within a minute", n)
	}
	slices.Sort(lat)
	rep.add(fmt.Sprintf("latency.kafka_only_%d_per_s.p50", rate), ms(pct(lat, 0.5)), "ms", "control, no outbox: produce→consumer, %d records", len(lat))
	rep.add(fmt.Sprintf("latency.kafka_only_%d_per_s.p99", rate), ms(pct(lat, 0.99)), "ms", "the floor under the outbox's rows at this rate")
	return nil
}
