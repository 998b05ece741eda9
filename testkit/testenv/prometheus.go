package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Prometheus is the services script's Prometheus (`services.sh up prometheus`): its base
// URL, and the directory where a test drops a file_sd target file for it to scrape
// (OUTBOX_PROMETHEUS_URL and OUTBOX_PROMETHEUS_TARGETS override them). A test that needs
// it skips, or fails under CI, when it does not answer.
type Prometheus struct {
	URL, Targets string
}

// NewPrometheus returns the services script's Prometheus, checking that it answers.
func NewPrometheus(t testing.TB) Prometheus {
	t.Helper()
	p := Prometheus{URL: env("OUTBOX_PROMETHEUS_URL", "http://127.0.0.1:59090"),
		Targets: env("OUTBOX_PROMETHEUS_TARGETS", "/var/tmp/go-outbox/prometheus/targets")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET /-/ready: %s", resp.Status)
		}
	}
	if err == nil {
		_, err = os.Stat(p.Targets)
	}
	if err != nil {
		Need(t, "Prometheus (scripts/services.sh up prometheus)", err)
	}
	return p
}

// Scrape has Prometheus scrape addr (host:port, /metrics) with the label test=name,
// until the test ends.
func (p Prometheus) Scrape(t testing.TB, name, addr string) {
	t.Helper()
	b, _ := json.Marshal([]map[string]any{{"targets": []string{addr}, "labels": map[string]string{"test": name}}})
	file := filepath.Join(p.Targets, name+".json")
	if err := os.WriteFile(file+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil { // Prometheus never reads half a file
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(file) })
}

// Query evaluates an instant PromQL query and returns its result's "result" part.
func (p Prometheus) Query(t testing.TB, query string) []struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
} {
	t.Helper()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(query), &body)
	return body.Data.Result
}

// Alerts returns the alerts Prometheus holds now, with their labels and state.
func (p Prometheus) Alerts(t testing.TB) []struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
} {
	t.Helper()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/alerts", &body)
	return body.Data.Alerts
}

func (p Prometheus) get(t testing.TB, path string, into any) {
	t.Helper()
	resp, err := http.Get(p.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", path, resp.Status, err)
	}
}
