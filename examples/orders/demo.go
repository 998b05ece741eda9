package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/outboxkafka"
)

// runDemo places orders over HTTP, one of them invalid, and prints the events that reach
// Kafka: one per placed order, none for the rejected one.
func runDemo(ctx context.Context, base string, producer *kgo.Client, topic string) error {
	consumer, err := kgo.NewClient(kgo.SeedBrokers(producer.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	consumer.PollFetches(pollCtx(ctx, time.Second)) // join at the end before placing orders

	orders := []string{
		`{"customer":"ada","total_cents":1999}`,
		`{"customer":"grace","total_cents":4250}`,
		`{"customer":"","total_cents":100}`, // rejected by the database: no order, no event
		`{"customer":"linus","total_cents":999}`,
	}
	placed := 0
	for _, body := range orders {
		resp, err := http.Post(base+"/orders", "application/json", bytes.NewBufferString(body))
		if err != nil {
			return err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("POST /orders %s -> %d %s", body, resp.StatusCode, out)
		if resp.StatusCode == http.StatusCreated {
			placed++
		}
	}
	fmt.Printf("\nwaiting for %d events on topic %q...\n", placed, topic)
	for got := 0; got < placed; {
		fs := consumer.PollFetches(pollCtx(ctx, 30*time.Second))
		if ctx.Err() != nil || fs.IsClientClosed() {
			return ctx.Err()
		}
		if fs.Empty() {
			return fmt.Errorf("only %d of %d events arrived within 30s", got, placed)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			fmt.Printf("kafka %s[%d]@%d key=%s type=%s value=%s\n", r.Topic, r.Partition, r.Offset, r.Key,
				header(r, outboxkafka.HeaderEventType), r.Value)
		})
	}
	fmt.Println("\nall events arrived; stopping")
	return nil
}

func pollCtx(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

func header(r *kgo.Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}
