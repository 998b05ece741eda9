package outboxconsole_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxprom"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// The overview charts the relays' publish rate from their metrics, as the services'
// Prometheus scraped them from a real relay publishing to Kafka.
func TestPublishRate(t *testing.T) {
	t.Parallel()
	prom := testenv.NewPrometheus(t)
	o := testenv.NewOutbox(t, "postgres", outbox.Limits{})
	m := outboxprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	name := testenv.Name("rate")
	prom.Scrape(t, name, ln.Addr().String())

	s := newSite(t, o, outboxconsole.Config{PrometheusURL: prom.URL, PrometheusSelector: `test="` + name + `"`})
	pub, err := outboxkafka.New(testenv.Client(t, outboxkafka.ProducerOpts()...), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(o.Store, pub, &relay.Config{LeaseTTL: 3 * time.Second, Hooks: m.Hooks()})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, r)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() { // a steady trickle, for a rate over a minute's window
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_ = o.Write(context.Background(), outbox.Message{Topic: s.topic, Key: []byte("k"), Payload: []byte("x")})
		}
	}()
	var ov outboxconsole.Overview
	waitUntil(t, "a publish rate above zero", func() bool {
		_, body, _ := get(t, client(t), s.URL+"/api/v1/overview", viewerSecret)
		return json.Unmarshal([]byte(body), &ov) == nil && ov.Rate != nil && ov.Rate.Now > 0
	})
	if !strings.Contains(ov.Rate.Query, name) || len(ov.Rate.Points) == 0 {
		t.Fatalf("rate: %+v", ov.Rate)
	}
	c := client(t)
	s.login(t, c, viewerSecret)
	if _, page, _ := get(t, c, s.URL+"/", ""); !strings.Contains(page, `<svg class="rate"`) || !strings.Contains(page, "events/s now") {
		t.Fatalf("the overview has no rate chart:\n%s", page)
	}
	t.Logf("publish rate %.1f events/s, %d points", ov.Rate.Now, len(ov.Rate.Points))
}
