package outboxconsole

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/firstunicorn/outbox/outboxstore"
)

// backlogLimit caps the overview's counts, so that its cost stays bounded however
// large the backlog: a count at the cap shows as "at least".
const backlogLimit = 100_000

// Overview is the outbox at a glance, and what in it needs a human.
type Overview struct {
	Table   string              `json:"table"`
	Mode    outboxstore.Mode    `json:"mode"`
	Backlog outboxstore.Backlog `json:"backlog"`
	// Capped says Pending or Dead stopped counting at CountLimit.
	Capped     bool  `json:"capped"`
	CountLimit int64 `json:"count_limit"`
	// Slot is WAL mode's replication slot; nil in table mode.
	Slot *outboxstore.Slot `json:"slot,omitempty"`
	// Rate is the relays' publish rate, when the console has a Prometheus.
	Rate *PublishRate `json:"rate,omitempty"`
	// Kafka is whether a broker answers, when the console has a Kafka client.
	Kafka *KafkaState `json:"kafka,omitempty"`
	// Inboxes are the dead letters of each inbox group the console shows.
	Inboxes []GroupDead `json:"inboxes"`
	// Problems are what needs a human, worst first; none when all is well.
	Problems []string `json:"problems"`
}

func (c *console) overview(ctx context.Context) (Overview, error) {
	a := c.cfg.Outbox
	o := Overview{Table: a.Table(), Mode: a.Mode(), CountLimit: backlogLimit, Problems: []string{}}
	var err error
	if o.Backlog, err = a.Backlog(ctx, backlogLimit); err != nil {
		return o, err
	}
	o.Capped = o.Backlog.Pending >= backlogLimit || o.Backlog.Dead >= backlogLimit
	if o.Mode == outboxstore.WALMode {
		sl, err := a.Slot(ctx)
		if err != nil {
			return o, err
		}
		o.Slot = &sl
		o.Problems = append(o.Problems, slotProblems(sl)...)
	}
	if c.rater != nil {
		o.Rate = c.rater.rate(ctx)
	}
	if c.cfg.Kafka != nil {
		if o.Kafka = c.kafka(ctx); !o.Kafka.Reachable {
			o.Problems = append([]string{"Kafka: no broker answers (" + o.Kafka.Error + "): the relays cannot publish"}, o.Problems...)
		}
	}
	if age := o.Backlog.OldestPendingAge; age > c.cfg.StaleAfter {
		o.Problems = append(o.Problems, fmt.Sprintf("the oldest pending event is %s old: the relays are not keeping up, are not running, or cannot reach Kafka",
			age.Round(time.Second)))
	}
	if d := o.Backlog.Dead; d > 0 {
		o.Problems = append(o.Problems, fmt.Sprintf("%d dead letters wait for a retry or a purge", d))
	}
	o.Inboxes = []GroupDead{}
	for _, g := range c.cfg.Inboxes {
		n, err := g.Admin.CountDead(ctx, g.Group)
		if err != nil {
			return o, err
		}
		o.Inboxes = append(o.Inboxes, GroupDead{g.Group, n})
		if n > 0 {
			o.Problems = append(o.Problems, fmt.Sprintf("inbox group %s has %d dead letters", g.Group, n))
		}
	}
	return o, nil
}

// KafkaState is whether a broker of the cluster answered the console.
type KafkaState struct {
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// kafkaTimeout bounds the overview's ping of Kafka.
const kafkaTimeout = 2 * time.Second

func (c *console) kafka(ctx context.Context) *KafkaState {
	ctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	if err := c.cfg.Kafka.Ping(ctx); err != nil {
		return &KafkaState{Error: err.Error()}
	}
	return &KafkaState{Reachable: true}
}

// GroupDead is how many dead letters an inbox group has.
type GroupDead struct {
	Group string `json:"group"`
	Dead  int64  `json:"dead"`
}

// slotProblems are what is wrong with WAL mode's slot, if anything.
func slotProblems(sl outboxstore.Slot) []string {
	var out []string
	switch {
	case sl.InvalidationReason != "" || sl.WALStatus == "lost":
		out = append(out, fmt.Sprintf("the replication slot %s is lost (%s): events written since are gone; see docs/wal.md on recreating it", sl.Name, sl.InvalidationReason))
	case !sl.Active:
		out = append(out, fmt.Sprintf("no relay reads the replication slot %s: the WAL it holds grows (%d bytes)", sl.Name, sl.LagBytes))
	case sl.WALStatus == "unreserved":
		out = append(out, fmt.Sprintf("the replication slot %s is about to lose WAL it needs (max_slot_wal_keep_size)", sl.Name))
	}
	if r := sl.FailoverRisk(); r != "" {
		out = append(out, "failover: "+r)
	}
	return out
}

func (c *console) overviewPage(w http.ResponseWriter, r *http.Request, u user) {
	o, err := c.overview(r.Context())
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	c.render(w, r, u, "overview", o)
}

func (c *console) apiOverview(w http.ResponseWriter, r *http.Request, _ user) {
	o, err := c.overview(r.Context())
	if err != nil {
		c.apiError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}
