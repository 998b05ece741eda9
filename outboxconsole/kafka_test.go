package outboxconsole_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/testkit/faultproxy"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// In a real browser, the overview turns red when Kafka stops answering the console
// and green when it returns. Kafka "stops" at the address the console knows it by: the
// broker's PROXIED listener, which advertises a proxy's address, so that every
// connection goes through the proxy; closing it refuses them as a stopped broker does.
func TestBrowserKafkaDown(t *testing.T) {
	t.Parallel()
	proxyAddr, proxied := env("OUTBOX_KAFKA_PROXY_ADDR", "127.0.0.1:59095"), env("OUTBOX_KAFKA_PROXIED_LISTENER", "127.0.0.1:59094")
	up := func() *faultproxy.Proxy {
		// The address is the broker's one proxy: the bench's smoke test (another package,
		// run at the same time) may hold it for its remote scenario, some seconds.
		p, err := faultproxy.Listen(proxyAddr, proxied)
		for deadline := time.Now().Add(3 * time.Minute); errors.Is(err, syscall.EADDRINUSE) && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			p, err = faultproxy.Listen(proxyAddr, proxied)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	p := up()
	kc, err := kgo.NewClient(kgo.SeedBrokers(proxyAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	s := newSite(t, testenv.NewOutbox(t, "postgres", outbox.Limits{}), outboxconsole.Config{Kafka: kc})
	ctx, _ := browser(t)
	steps(t, ctx, "sign in", chromedp.Navigate(s.URL+"/"), chromedp.SendKeys(chromedp.ID("token"), viewerSecret),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("state")))
	state := func() (string, string) {
		steps(t, ctx, "overview", chromedp.Navigate(s.URL+"/"))
		return class(t, ctx, "state"), text(t, ctx, "kafka")
	}
	if c, k := state(); c != "state green" || k != "a broker answers" {
		t.Fatalf("with Kafka up: %q, %q", c, k)
	}
	p.Close()
	if c, k := state(); c != "state red" || k != "no broker answers" {
		t.Fatalf("with Kafka stopped: %q, %q", c, k)
	}
	screenshots(t, "postgres")(ctx, "overview-kafka-down")
	up()
	if c, k := state(); c != "state green" || k != "a broker answers" {
		t.Fatalf("with Kafka back: %q, %q", c, k)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
