package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// A real Prometheus scrapes an outbox relay process while events flow: its query API
// counts every event published and observed in the latency histogram, and a
// dead-lettered event drives the shipped alert rule OutboxDeadLettersRising to firing.
// The rules pass promtool, and every metric the rules and the Grafana dashboard name is
// one the relay exports.
func TestPrometheusAlerts(t *testing.T) {
	prom := testenv.NewPrometheus(t)
	c := newCluster(t, "postgres")
	addr, name := testenv.FreeAddr(t), testenv.Name("prom")
	p := c.relay("--metrics-addr", addr, "--lease-ttl", "3s", "--backlog-interval", "200ms", "--max-attempts", "1")
	prom.Scrape(t, name, addr)
	waitQuery(t, prom, fmt.Sprintf(`up{test=%q}`, name), 1)

	const n = 300
	l := c.write(4, 20, n, time.Millisecond)
	if rep := testenv.Verify(l, testenv.ConsumeAll(t, c.topic, n, time.Second, 30*time.Second)); rep.Received != n || rep.Lost != 0 {
		t.Fatalf("relayed: %v", rep)
	}
	waitQuery(t, prom, fmt.Sprintf(`sum(outbox_relay_events_total{test=%q,outcome="sent"})`, name), n)
	waitQuery(t, prom, fmt.Sprintf(`outbox_relay_commit_to_ack_seconds_count{test=%q}`, name), n)

	poison := outbox.Message{Topic: testenv.Name("missing"), Key: []byte("p"), Payload: []byte("x")}
	if err := c.o.Write(context.Background(), poison); err != nil {
		t.Fatal(err)
	}
	waitAlert(t, prom, "OutboxDeadLettersRising", name)

	exported := scrape(t, "http://"+addr+"/metrics")
	for _, file := range []string{"../../deploy/prometheus/outbox-alerts.yml", "../../deploy/grafana/outbox-dashboard.json"} {
		for _, m := range metricNames(t, file) {
			if strings.HasPrefix(m, "outbox_wal_slot_") {
				continue // a WAL-mode relay's: TestFailoverStatus checks them
			}
			if exported[m] == nil {
				t.Errorf("%s names %s, which the relay does not export", file, m)
			}
		}
	}
	p.stop(t, 20*time.Second)
}

func TestAlertRulesPassPromtool(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		testenv.Need(t, "promtool (Debian's prometheus package: scripts/services.sh up prometheus)", err)
	}
	out, err := exec.Command("promtool", "check", "rules", "../../deploy/prometheus/outbox-alerts.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 7 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// The failover alerts' 'for' is minutes: promtool's rule tests play their series.
	out, err = exec.Command("promtool", "test", "rules", "../../deploy/prometheus/outbox-alerts_test.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// metricNames are the metric families a rules or dashboard file names.
func metricNames(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, m := range regexp.MustCompile(`\b(?:outbox|go|process)_[a-z_]+\b`).FindAllString(string(b), -1) {
		m = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
		if !seen[m] {
			seen[m] = true
			names = append(names, m)
		}
	}
	if len(names) < 5 {
		t.Fatalf("%s names only %v", file, names)
	}
	return names
}

// waitQuery waits until query's one result is want.
func waitQuery(t *testing.T, prom testenv.Prometheus, query string, want float64) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		res := prom.Query(t, query)
		if len(res) == 1 {
			last = fmt.Sprint(res[0].Value[1])
			if v, err := strconv.ParseFloat(last, 64); err == nil && v == want {
				return
			}
		}
	}
	t.Fatalf("%s: %s after 30s, want %v", query, last, want)
}

// waitAlert waits until Prometheus holds alert firing for the test's target.
func waitAlert(t *testing.T, prom testenv.Prometheus, alert, test string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for _, a := range prom.Alerts(t) {
			if a.Labels["alertname"] == alert && a.Labels["test"] == test && a.State == "firing" {
				return
			}
		}
	}
	t.Fatalf("alert %s not firing for %s after 30s: %+v", alert, test, prom.Alerts(t))
}
