package outboxconsole

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxstore"
)

// pageSize is how many dead letters a page of the console lists.
const pageSize = 50

// deadQuery reads a filter from a query string or a form: topic, type, key, error,
// since and until (RFC 3339, or a browser's datetime-local in UTC), after and limit.
func deadQuery(v url.Values) (outboxstore.DeadQuery, error) {
	q := outboxstore.DeadQuery{Topic: v.Get("topic"), Type: v.Get("type"), Key: v.Get("key"), Error: v.Get("error"),
		After: v.Get("after"), Limit: pageSize}
	var err error
	if q.Since, err = parseTime("since", v.Get("since")); err != nil {
		return q, err
	}
	if q.Until, err = parseTime("until", v.Get("until")); err != nil {
		return q, err
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil {
			return q, fmt.Errorf("%w: limit %q is not a number", outbox.ErrInvalidConfig, l)
		}
	}
	return q, nil
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s %q: use RFC 3339, as in 2026-12-05T07:00:00Z", outbox.ErrInvalidConfig, name, s)
}

// filterValues is q as a query string, its page left out: what a link to the same
// filter carries.
func filterValues(q outboxstore.DeadQuery) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"topic": q.Topic, "type": q.Type, "key": q.Key, "error": q.Error} {
		if s != "" {
			v.Set(k, s)
		}
	}
	for k, t := range map[string]time.Time{"since": q.Since, "until": q.Until} {
		if !t.IsZero() {
			v.Set(k, t.UTC().Format(time.RFC3339))
		}
	}
	return v
}

type deadView struct {
	Query  outboxstore.DeadQuery
	Page   outboxstore.DeadPage
	Filter url.Values
	// NextURL and FirstURL are the links to the next page and back to the first.
	NextURL, FirstURL string
}

func (c *console) deadPage(w http.ResponseWriter, r *http.Request, u user) {
	q, err := deadQuery(r.URL.Query())
	if err != nil {
		c.fail(w, r, u, false, http.StatusBadRequest, err)
		return
	}
	p, err := c.cfg.Outbox.FindDead(r.Context(), q)
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	v := deadView{Query: q, Page: p, Filter: filterValues(q)}
	v.FirstURL = c.cfg.Prefix + "/dead?" + v.Filter.Encode()
	if p.Next != "" {
		next := filterValues(q)
		next.Set("after", p.Next)
		v.NextURL = c.cfg.Prefix + "/dead?" + next.Encode()
	}
	c.render(w, r, u, "dead", v)
}

func (c *console) apiDead(w http.ResponseWriter, r *http.Request, _ user) {
	q, err := deadQuery(r.URL.Query())
	if err != nil {
		c.apiError(w, http.StatusBadRequest, err)
		return
	}
	p, err := c.cfg.Outbox.FindDead(r.Context(), q)
	if err != nil {
		c.apiError(w, status(err), err)
		return
	}
	if p.Events == nil {
		p.Events = []outboxstore.DeadEvent{}
	}
	writeJSON(w, http.StatusOK, p)
}
