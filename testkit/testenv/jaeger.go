package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

// Jaeger returns the base URLs of the services script's Jaeger: its query API and its
// OTLP/HTTP receiver (OUTBOX_JAEGER_QUERY_URL and OUTBOX_JAEGER_OTLP_URL override
// them). A test that needs it skips, or fails under CI, when it does not answer.
func Jaeger(t testing.TB) (query, otlp string) {
	t.Helper()
	query = env("OUTBOX_JAEGER_QUERY_URL", "http://127.0.0.1:56686")
	otlp = env("OUTBOX_JAEGER_OTLP_URL", "http://127.0.0.1:54318")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, query+"/api/services", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET /api/services: %s", resp.Status)
		}
	}
	if err != nil {
		Need(t, "Jaeger (scripts/services.sh up jaeger)", err)
	}
	return query, otlp
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
