package outboxconsole

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// The publish rate comes from the relays' metrics, through Prometheus: the database
// keeps no count of what was sent (published rows are deleted, and in WAL mode never in
// a table), where every relay counts outbox_relay_events_total{outcome="sent"}.

// rateWindow and rateStep are the span and the resolution of the overview's chart.
const (
	rateWindow = 15 * time.Minute
	rateStep   = time.Minute
)

// PublishRate is the events the relays sent per second, a point a minute over the last
// fifteen minutes, from Prometheus.
type PublishRate struct {
	// Query is the PromQL the points come from.
	Query string `json:"query"`
	// Now is the latest point, events per second; Points are all of them, oldest first.
	Now    float64     `json:"now"`
	Points []RatePoint `json:"points"`
	// Error says why there are no points.
	Error string `json:"error,omitempty"`
}

// RatePoint is the publish rate at one time.
type RatePoint struct {
	At     time.Time `json:"at"`
	PerSec float64   `json:"per_second"`
	// X, Y and Height place the point's bar in the overview's chart.
	X, Y, Height int `json:"-"`
}

// The chart's size: a bar every barStep (16 wide, in the template), the highest point
// chartHeight tall.
const (
	chartHeight = 60
	barStep     = 20
)

type rater struct {
	api   promv1.API
	query string
}

func newRater(c *Config) (*rater, error) {
	if c.PrometheusURL == "" {
		return nil, nil
	}
	cl, err := api.NewClient(api.Config{Address: c.PrometheusURL})
	if err != nil {
		return nil, fmt.Errorf("PrometheusURL %q: %w", c.PrometheusURL, err)
	}
	sel := `outcome="sent"`
	if c.PrometheusSelector != "" {
		sel += "," + c.PrometheusSelector
	}
	return &rater{api: promv1.NewAPI(cl), query: fmt.Sprintf("sum(rate(outbox_relay_events_total{%s}[1m]))", sel)}, nil
}

func (r *rater) rate(ctx context.Context) *PublishRate {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	pr := &PublishRate{Query: r.query, Points: []RatePoint{}}
	end := time.Now()
	v, _, _, err := r.api.QueryRange(ctx, r.query, promv1.Range{Start: end.Add(-rateWindow), End: end, Step: rateStep})
	if err != nil {
		pr.Error = err.Error()
		return pr
	}
	m, ok := v.(model.Matrix)
	if !ok || len(m) == 0 {
		pr.Error = "no relay's metrics in Prometheus for the last 15 minutes (check the selector)"
		return pr
	}
	top := 0.0
	for _, s := range m[0].Values {
		pr.Points = append(pr.Points, RatePoint{At: s.Timestamp.Time(), PerSec: float64(s.Value)})
		top = max(top, float64(s.Value))
	}
	for i := range pr.Points {
		p := &pr.Points[i]
		if top > 0 {
			p.Height = int(p.PerSec / top * chartHeight)
		}
		p.X, p.Y = i*barStep, chartHeight-p.Height
	}
	pr.Now = pr.Points[len(pr.Points)-1].PerSec
	return pr
}
