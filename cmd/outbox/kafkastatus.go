package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// kafkaHealth is what the cluster's metadata says of its brokers and of some topics'
// partitions: what an operator needs to read a cluster fault (which broker, which
// partitions) next to the relay's paced logs (since when).
type kafkaHealth struct {
	Brokers []string      `json:"brokers"`      // "id host:port", as the metadata lists them
	Down    []int32       `json:"down_brokers"` // holding replicas, yet missing from the metadata
	Topics  []topicHealth `json:"topics"`
}

type topicHealth struct {
	Topic           string  `json:"topic"`
	Error           string  `json:"error,omitempty"`
	Partitions      int     `json:"partitions"`
	MinISR          int     `json:"min_insync_replicas"`
	NoLeader        []int32 `json:"without_leader"`
	UnderMinISR     []int32 `json:"under_min_isr"`
	UnderReplicated []int32 `json:"under_replicated"`
}

// describeKafka reads the metadata and min.insync.replicas of topics, within 10 s.
func describeKafka(ctx context.Context, brokers, topics []string) (kafkaHealth, error) {
	var h kafkaHealth
	cl, err := kafkaClient(ctx, brokers)
	if err != nil {
		return h, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return h, fmt.Errorf("kafka metadata: %w", err)
	}
	live := map[int32]bool{}
	for _, b := range md.Brokers {
		live[b.NodeID] = true
		h.Brokers = append(h.Brokers, fmt.Sprintf("%d %s:%d", b.NodeID, b.Host, b.Port))
	}
	minISR := map[string]int{}
	if cfgs, err := adm.DescribeTopicConfigs(ctx, topics...); err == nil {
		for _, rc := range cfgs {
			for _, c := range rc.Configs {
				if c.Key == "min.insync.replicas" && c.Value != nil {
					minISR[rc.Name], _ = strconv.Atoi(*c.Value)
				}
			}
		}
	}
	for _, name := range topics {
		td := md.Topics[name]
		th := topicHealth{Topic: name, MinISR: minISR[name], Partitions: len(td.Partitions)}
		if td.Err != nil {
			th.Error = td.Err.Error()
		}
		for _, p := range td.Partitions.Sorted() {
			for _, r := range p.Replicas {
				if !live[r] && !slices.Contains(h.Down, r) {
					h.Down = append(h.Down, r)
				}
			}
			switch {
			case p.Leader < 0:
				th.NoLeader = append(th.NoLeader, p.Partition)
			case len(p.ISR) < th.MinISR:
				th.UnderMinISR = append(th.UnderMinISR, p.Partition)
			case len(p.ISR) < len(p.Replicas):
				th.UnderReplicated = append(th.UnderReplicated, p.Partition)
			}
		}
		h.Topics = append(h.Topics, th)
	}
	slices.Sort(h.Down)
	return h, nil
}

// print writes h as status lines.
func (h kafkaHealth) print(w io.Writer) {
	line := "kafka brokers:      " + strings.Join(h.Brokers, ", ")
	if len(h.Down) > 0 {
		line += fmt.Sprintf("; down: %v (they hold replicas but are not in the cluster's metadata)", h.Down)
	}
	fmt.Fprintln(w, line)
	for _, t := range h.Topics {
		var parts []string
		if t.Error != "" {
			parts = append(parts, t.Error)
		}
		if len(t.NoLeader) > 0 {
			parts = append(parts, fmt.Sprintf("%d without a leader %v (publishes to them fail until one is elected)", len(t.NoLeader), t.NoLeader))
		}
		if len(t.UnderMinISR) > 0 {
			parts = append(parts, fmt.Sprintf("%d under min.insync.replicas %d %v (acks=all publishes fail)", len(t.UnderMinISR), t.MinISR, t.UnderMinISR))
		}
		if len(t.UnderReplicated) > 0 {
			parts = append(parts, fmt.Sprintf("%d under-replicated %v", len(t.UnderReplicated), t.UnderReplicated))
		}
		if len(parts) == 0 {
			parts = append(parts, "every partition led, every replica in sync")
		}
		fmt.Fprintf(w, "kafka topic %s: %d partitions: %s\n", t.Topic, t.Partitions, strings.Join(parts, "; "))
	}
}
