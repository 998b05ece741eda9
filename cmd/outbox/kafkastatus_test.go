package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// status --kafka-topics adds what the cluster's metadata says of the topics; a cluster
// fault is in make chaos (TestKafkaCluster/leader_killed).
func TestStatusKafkaTopics(t *testing.T) {
	t.Parallel()
	o := testenv.NewOutbox(t, "postgres", outbox.Limits{})
	topic := testenv.Topic(t, 4, nil)
	args := []string{"status", "--database-url", o.URL, "--schema", o.Schema, "--kafka-brokers", strings.Join(testenv.Brokers(), ","),
		"--kafka-topics", topic + ",missing_topic"}
	code, out := runCmd(t, args...)
	if code != 0 || !strings.Contains(out, "kafka topic "+topic+": 4 partitions: every partition led, every replica in sync") ||
		!strings.Contains(out, "kafka topic missing_topic: 0 partitions: UNKNOWN_TOPIC_OR_PARTITION") ||
		!strings.Contains(out, "kafka brokers:      1 127.0.0.1:") {
		t.Fatalf("status --kafka-topics: %d\n%s", code, out)
	}
	code, out = runCmd(t, append(args, "--json")...)
	var st struct {
		Kafka struct {
			Brokers []string
			Topics  []struct {
				Topic      string
				Partitions int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st.Kafka.Brokers) != 1 ||
		len(st.Kafka.Topics) != 2 || st.Kafka.Topics[0].Partitions != 4 {
		t.Fatalf("status --json --kafka-topics: %d %v\n%s", code, err, out)
	}
	if code, out := runCmd(t, "status", "--database-url", o.URL, "--kafka-topics", topic, "--kafka-brokers", "nohost"); code != 1 ||
		!strings.Contains(out, `bad Kafka broker "nohost"`) {
		t.Errorf("bad broker: %d %s", code, out)
	}
}
