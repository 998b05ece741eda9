//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/firstunicorn/outbox/testkit/testenv"
)

// kafkaCluster is the three-node cluster of scripts/kafka-cluster.sh.
func kafkaCluster() []string {
	if v := os.Getenv("OUTBOX_KAFKA_CLUSTER"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1:29310", "127.0.0.1:29320", "127.0.0.1:29330"}
}

// clusterAdmin is an admin client of the cluster, closed when the test ends.
func clusterAdmin(t *testing.T) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaCluster()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// clusterTopic creates a topic on the cluster, replicated on all three nodes
// (min.insync.replicas 2, the cluster's default), deleted when the test ends.
func clusterTopic(t *testing.T, partitions int32, configs map[string]*string) string {
	adm := clusterAdmin(t)
	name := testenv.Name("cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 3, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s on the cluster: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, name)
	})
	waitISR(t, adm, name, 60*time.Second)
	return name
}

// waitISR waits until every partition of topic has a leader and all three replicas in
// sync, and returns how long that took.
func waitISR(t *testing.T, adm *kadm.Client, topic string, timeout time.Duration) time.Duration {
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		md, err := adm.Metadata(ctx, topic)
		cancel()
		full := err == nil && len(md.Topics[topic].Partitions) > 0
		if full {
			for _, p := range md.Topics[topic].Partitions {
				full = full && p.Leader >= 0 && len(p.ISR) == 3
			}
		}
		if full {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("topic %s: replicas not all in sync after %s: %v", topic, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// busiestLeader is the node leading most of topic's partitions.
func busiestLeader(t *testing.T, adm *kadm.Client, topic string) int32 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	led := map[int32]int{}
	best := int32(-1)
	for _, p := range md.Topics[topic].Partitions {
		led[p.Leader]++
		if best < 0 || led[p.Leader] > led[best] {
			best = p.Leader
		}
	}
	return best
}

// activeController is the node leading the KRaft quorum, asked of any broker.
func activeController(t *testing.T) int32 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaCluster()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) == 0 || len(resp.Topics[0].Partitions) == 0 {
		t.Fatalf("describe quorum: %v", err)
	}
	return resp.Topics[0].Partitions[0].LeaderID
}

// stopNode ends cluster node n with sig and waits until it has exited.
func stopNode(t *testing.T, n int32, sig syscall.Signal) {
	stopService(t, fmt.Sprintf("Kafka cluster node %d", n), fmt.Sprintf("kafka-cluster/node%d/pid", n), sig)
}

// restartNodes starts the nodes that are down and waits for every replica to be in
// sync again; it returns how long the replicas took.
func (c *cluster) restartNodes(adm *kadm.Client) time.Duration {
	services(c.t, "up", "kafka-cluster")
	return waitISR(c.t, adm, c.topic, 3*time.Minute)
}

// statusNames waits until `outbox status --kafka-topics` names node n as down and the
// topic's partitions as short of replicas: the controller fences a node killed or cut
// off after broker.session.timeout.ms (9 s) without its heartbeat.
func (c *cluster) statusNames(n int32) {
	start := time.Now()
	var out string
	for time.Since(start) < 30*time.Second {
		var err error
		out, err = c.outbox("status", "--kafka-brokers", strings.Join(c.brokers, ","), "--kafka-topics", c.topic)
		if err == nil && strings.Contains(out, fmt.Sprintf("down: [%d]", n)) &&
			(strings.Contains(out, "under-replicated") || strings.Contains(out, "under min.insync.replicas")) {
			c.t.Logf("outbox status %s after node %d went:\n%s", time.Since(start).Round(100*time.Millisecond), n, out)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("outbox status did not name node %d down within 30 s:\n%s", n, out)
}

// clusterOpt is the cluster scenarios' relays: two, on the cluster, with the default
// lease (15 s), so the publish deadline is the default 3.75 s. With a 3 s lease (a
// 0.75 s deadline) a failover outlasts the deadline: franz-go's idempotent retries on
// the new leader are cancelled, the batch is sent again under a new producer id, and
// the duplicates come near the bound (measured once: 405 and 696 of 800, against 118
// and 128 with the default lease, for a leader and a controller killed).
var clusterOpt = options{Relays: 2, Workers: 4, Batch: 100, LeaseTTL: 15 * time.Second, Partitions: 8, KafkaCluster: true}

// Kafka cluster faults: writers and relays as in the other scenarios, the relays'
// producers on the three-node cluster, the topic replicated three times with
// min.insync.replicas=2 (acks=all, as the relay always asks). Each node is broker and
// controller, so two nodes down also lose the controller quorum: no leader election
// and no ISR change happen until one returns.
func TestKafkaCluster(t *testing.T) {
	for _, sc := range []struct {
		name  string
		short bool // in the short form too
		fault func(c *cluster, adm *kadm.Client)
	}{
		// The node leading most of the topic's partitions SIGKILLed, started again
		// 2–5 s later.
		{"leader_killed", false, func(c *cluster, adm *kadm.Client) {
			n := busiestLeader(c.t, adm, c.topic)
			stopNode(c.t, n, syscall.SIGKILL)
			c.statusNames(n)
			time.Sleep(between(c.rng, 2*time.Second, 5*time.Second))
			isr := c.restartNodes(adm)
			c.mark(fmt.Sprintf("node %d (leader) back, in sync after %s", n, isr.Round(100*time.Millisecond)), c.opt.Relays)
		}},
		// Every node in turn stopped cleanly (SIGTERM), started, and waited for until
		// every replica is in sync, before the next.
		{"rolling_restart", false, func(c *cluster, adm *kadm.Client) {
			for n := int32(1); n <= 3; n++ {
				stopNode(c.t, n, syscall.SIGTERM)
				isr := c.restartNodes(adm)
				c.mark(fmt.Sprintf("node %d restarted, in sync after %s", n, isr.Round(100*time.Millisecond)), c.opt.Relays)
			}
		}},
		// Two nodes down: one replica in sync, under min.insync.replicas. Producing
		// fails (NOT_ENOUGH_REPLICAS) and the relays must acknowledge nothing, back off,
		// and resume when the nodes return, nothing dead-lettered for the outage.
		{"under_min_isr", false, func(c *cluster, adm *kadm.Client) {
			leader := busiestLeader(c.t, adm, c.topic)
			for n := int32(1); n <= 3; n++ {
				if n != leader {
					stopNode(c.t, n, syscall.SIGKILL)
				}
			}
			time.Sleep(pick(5*time.Second, 15*time.Second))
			isr := c.restartNodes(adm)
			c.mark(fmt.Sprintf("two nodes back, in sync after %s", isr.Round(100*time.Millisecond)), c.opt.Relays)
			if dead := c.status().Dead; dead != 0 {
				c.t.Fatalf("%d events dead-lettered for an outage", dead)
			}
		}},
		// The busiest leader cut off from its clients and from the other two nodes (a
		// packet filter drops everything to and from it: services.sh partition), healed
		// 5–10 s after the others fenced it. Unlike a killed node, nothing answers: the
		// relays' requests to it hang until their deadline, and the node keeps running,
		// sure it leads, until it hears of the new leaders when healed.
		{"partitioned", true, func(c *cluster, adm *kadm.Client) {
			n := busiestLeader(c.t, adm, c.topic)
			services(c.t, "partition", "kafka-cluster", fmt.Sprint(n))
			healed := false
			defer func() {
				if !healed {
					services(c.t, "heal", "kafka-cluster")
				}
			}()
			c.statusNames(n)
			time.Sleep(between(c.rng, 5*time.Second, 10*time.Second))
			services(c.t, "heal", "kafka-cluster")
			healed = true
			isr := waitISR(c.t, adm, c.topic, 3*time.Minute)
			c.mark(fmt.Sprintf("node %d (leader) healed, in sync after %s", n, isr.Round(100*time.Millisecond)), c.opt.Relays)
		}},
		// The active controller (KRaft quorum leader) SIGKILLed, started again 2–5 s
		// later: the other two elect a new one.
		{"controller_killed", false, func(c *cluster, adm *kadm.Client) {
			n := activeController(c.t)
			stopNode(c.t, n, syscall.SIGKILL)
			time.Sleep(between(c.rng, 2*time.Second, 5*time.Second))
			isr := c.restartNodes(adm)
			c.mark(fmt.Sprintf("node %d (controller) back, in sync after %s", n, isr.Round(100*time.Millisecond)), c.opt.Relays)
		}},
	} {
		if testing.Short() && !sc.short {
			continue // the short form keeps make test's time: one of the five
		}
		t.Run(sc.name, func(t *testing.T) {
			scenario{dbs: []string{"postgres"}, opt: clusterOpt, fault: func(c *cluster) {
				sc.fault(c, clusterAdmin(c.t))
			}}.run(t)
		})
	}
}
