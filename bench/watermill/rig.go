package main

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rig is one scenario's Watermill set-up: a forwarder topic in PostgreSQL, a Kafka topic,
// the publisher applications write through, and the forwarder between them.
type rig struct {
	db       *stdsql.DB
	kcl      *kgo.Client
	adm      *kadm.Client
	topic    string
	fwdTopic string
	pub      message.Publisher // what an application writes through
	fwd      *forwarder.Forwarder
	cleanup  []func()
}

func newRig(ctx context.Context, dbURL string, brokers []string) (*rig, error) {
	logger := watermill.NopLogger{}
	r := &rig{}
	var err error
	if r.db, err = stdsql.Open("pgx", dbURL); err != nil {
		return nil, err
	}
	r.cleanup = append(r.cleanup, func() { _ = r.db.Close() })
	suffix := fmt.Sprint(time.Now().UnixNano())
	r.fwdTopic, r.topic = "bench_forwarder_"+suffix, "watermill-bench-"+suffix
	r.cleanup = append(r.cleanup, func() {
		_, _ = r.db.Exec(`DROP TABLE IF EXISTS "watermill_` + r.fwdTopic + `", "watermill_offsets_` + r.fwdTopic + `"`)
	})
	if r.kcl, err = kgo.NewClient(kgo.SeedBrokers(brokers...)); err != nil {
		r.close()
		return nil, err
	}
	r.cleanup = append(r.cleanup, r.kcl.Close)
	r.adm = kadm.NewClient(r.kcl)
	if _, err := r.adm.CreateTopic(ctx, 8, 1, nil, r.topic); err != nil {
		r.close()
		return nil, fmt.Errorf("create topic: %w", err)
	}
	r.cleanup = append(r.cleanup, func() { _, _ = r.adm.DeleteTopics(context.Background(), r.topic) })

	schema := wsql.DefaultPostgreSQLSchema{}
	sqlPub, err := wsql.NewPublisher(wsql.BeginnerFromStdSQL(r.db), wsql.PublisherConfig{SchemaAdapter: schema, AutoInitializeSchema: true}, logger)
	if err != nil {
		r.close()
		return nil, err
	}
	r.pub = forwarder.NewPublisher(sqlPub, forwarder.PublisherConfig{ForwarderTopic: r.fwdTopic})
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(r.db), wsql.SubscriberConfig{
		ConsumerGroup: "forwarder", SchemaAdapter: schema, OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: true, PollInterval: 10 * time.Millisecond,
	}, logger)
	if err != nil {
		r.close()
		return nil, err
	}
	kpub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, Marshaler: kafka.DefaultMarshaler{}}, logger)
	if err != nil {
		r.close()
		return nil, err
	}
	r.cleanup = append(r.cleanup, func() { _ = kpub.Close() })
	if r.fwd, err = forwarder.NewForwarder(sub, kpub, logger, forwarder.Config{ForwarderTopic: r.fwdTopic}); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// run starts the forwarder; it stops when ctx ends.
func (r *rig) run(ctx context.Context) { go func() { _ = r.fwd.Run(ctx) }() }

func (r *rig) close() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
}
