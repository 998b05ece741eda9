package relay

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
)

// Any Config either fails Validate with ErrInvalidConfig and a message naming the
// relay, or yields, with defaults filled in, one the relay can run with.
func FuzzConfig(f *testing.F) {
	f.Add(0, 0, 0, int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(500, 5, 4, int64(100*time.Millisecond), int64(15*time.Second), int64(0), int64(500*time.Millisecond),
		int64(30*time.Second), int64(0), int64(time.Minute), int64(10*time.Second))
	f.Add(-1, -1, -1, int64(-1), int64(999*time.Millisecond), int64(time.Hour), int64(time.Minute), int64(time.Second), int64(-1), int64(-1), int64(-1))
	f.Add(1, 1, 1, int64(1), int64(1<<62), int64(0), int64(1<<62), int64(0), int64(1), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, batch, attempts, workers int, poll, lease, publish, backoff, maxBackoff, retention, purge, shutdown int64) {
		c := &Config{BatchSize: batch, MaxAttempts: attempts, Workers: workers, PollInterval: time.Duration(poll),
			LeaseTTL: time.Duration(lease), PublishTimeout: time.Duration(publish), Backoff: time.Duration(backoff),
			MaxBackoff: time.Duration(maxBackoff), Retention: time.Duration(retention), PurgeInterval: time.Duration(purge),
			ShutdownTimeout: time.Duration(shutdown)}
		cfg, err := c.withDefaults()
		if err != nil {
			if !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), "relay: ") {
				t.Fatalf("%+v: %v; want ErrInvalidConfig naming the relay", c, err)
			}
			if err2 := c.Validate(); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Validate = %v, withDefaults = %v", err2, err)
			}
			return
		}
		for name, d := range map[string]time.Duration{"PollInterval": cfg.PollInterval, "LeaseTTL": cfg.LeaseTTL,
			"PublishTimeout": cfg.PublishTimeout, "Backoff": cfg.Backoff, "MaxBackoff": cfg.MaxBackoff,
			"PurgeInterval": cfg.PurgeInterval, "ShutdownTimeout": cfg.ShutdownTimeout} {
			if d <= 0 {
				t.Fatalf("%+v accepted with %s = %s", c, name, d)
			}
		}
		if cfg.BatchSize <= 0 || cfg.MaxAttempts <= 0 || cfg.Workers <= 0 || cfg.Retention < 0 {
			t.Fatalf("%+v accepted as %+v", c, cfg)
		}
		if cfg.LeaseTTL < time.Second || cfg.PublishTimeout >= cfg.LeaseTTL/3 || cfg.MaxBackoff < cfg.Backoff {
			t.Fatalf("%+v accepted: lease %s, publish timeout %s, backoff %s..%s", c, cfg.LeaseTTL, cfg.PublishTimeout, cfg.Backoff, cfg.MaxBackoff)
		}
	})
}
