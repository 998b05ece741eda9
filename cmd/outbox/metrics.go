package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/firstunicorn/outbox/outboxprom"
)

// metrics is the relay daemon's registry: the relay's own metrics (outboxprom), the
// Kafka client's (franz-go's kprom, outbox_kafka_*), and the Go runtime's and the
// process's.
type metrics struct {
	reg   *prometheus.Registry
	relay *outboxprom.Metrics
	kafka *kprom.Metrics
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{reg: reg, relay: outboxprom.New(), kafka: kprom.NewMetrics("outbox_kafka", kprom.Registry(reg))}
	reg.MustRegister(m.relay)
	return m
}

// kafkaOpt attaches the client metrics to the relay's Kafka client.
func (m *metrics) kafkaOpt() kgo.Opt { return kgo.WithHooks(m.kafka) }

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }
