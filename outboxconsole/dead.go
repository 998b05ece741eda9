package outboxconsole

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
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

// deadRow is one dead letter of either half, as the list shows it.
type deadRow struct {
	ID, Topic, Key, Type, Error string
	Attempts                    int
	DeadAt                      time.Time
	// Page links to the event's page: the outbox's events only.
	Page string
	// RetryAsked: an inbox event a consumer will hand its handler again.
	RetryAsked bool
}

type deadView struct {
	// Group is the inbox group listed; "" for the outbox.
	Group  string
	Query  outboxstore.DeadQuery
	Rows   []deadRow
	Filter url.Values
	// NextURL and FirstURL are the links to the next page and back to the first.
	NextURL, FirstURL string
}

// findDead reads a page of the outbox's dead letters, or of group's in its inbox: the
// page as the API gives it, its rows as the list shows them, and the next page's cursor.
func (c *console) findDead(r *http.Request, group string, q outboxstore.DeadQuery) (page any, rows []deadRow, next string, err error) {
	if group == "" {
		p, err := c.cfg.Outbox.FindDead(r.Context(), q)
		if p.Events == nil {
			p.Events = []outboxstore.DeadEvent{}
		}
		for _, e := range p.Events {
			rows = append(rows, deadRow{ID: e.ID, Topic: e.Topic, Key: e.Key, Type: e.Type, Error: e.Error, Attempts: e.Attempts,
				DeadAt: e.DeadAt, Page: c.cfg.Prefix + "/events/" + url.PathEscape(e.ID)})
		}
		return p, rows, p.Next, err
	}
	ib, err := c.inbox(group)
	if err != nil {
		return nil, nil, "", err
	}
	iq, err := inboxQuery(q)
	if err != nil {
		return nil, nil, "", err
	}
	p, err := ib.FindDead(r.Context(), group, iq)
	if p.Events == nil {
		p.Events = []inbox.DeadEvent{}
	}
	for _, e := range p.Events {
		rows = append(rows, deadRow{ID: e.ID, Topic: e.Topic, Key: e.Key, Error: e.Error, Attempts: e.Attempts, DeadAt: e.DeadAt,
			RetryAsked: e.RetryAsked})
	}
	return p, rows, p.Next, err
}

func (c *console) deadPage(w http.ResponseWriter, r *http.Request, u user) {
	group := r.PathValue("group")
	q, err := deadQuery(r.URL.Query())
	if err != nil {
		c.fail(w, r, u, false, http.StatusBadRequest, err)
		return
	}
	_, rows, next, err := c.findDead(r, group, q)
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	path := c.cfg.Prefix + "/dead?"
	if group != "" {
		path = c.cfg.Prefix + "/inbox/" + url.PathEscape(group) + "/dead?"
	}
	v := deadView{Group: group, Query: q, Rows: rows, Filter: filterValues(q)}
	v.FirstURL = path + v.Filter.Encode()
	if next != "" {
		n := filterValues(q)
		n.Set("after", next)
		v.NextURL = path + n.Encode()
	}
	c.render(w, r, u, "dead", v)
}

func (c *console) apiDead(w http.ResponseWriter, r *http.Request, _ user) {
	q, err := deadQuery(r.URL.Query())
	if err != nil {
		c.apiError(w, http.StatusBadRequest, err)
		return
	}
	page, _, _, err := c.findDead(r, r.PathValue("group"), q)
	if err != nil {
		c.apiError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// inboxQuery is q for an inbox, whose dead letters have no event type.
func inboxQuery(q outboxstore.DeadQuery) (inbox.DeadQuery, error) {
	if q.Type != "" {
		return inbox.DeadQuery{}, fmt.Errorf("%w: an inbox's dead letters have no event type: filter them by topic, key, error or time",
			outbox.ErrInvalidConfig)
	}
	return inbox.DeadQuery{Topic: q.Topic, Key: q.Key, Error: q.Error, Since: q.Since, Until: q.Until, After: q.After, Limit: q.Limit}, nil
}

// inbox is the inbox of group, which Config.Inboxes must name.
func (c *console) inbox(group string) (*inbox.Admin, error) {
	for _, g := range c.cfg.Inboxes {
		if g.Group == group {
			return g.Admin, nil
		}
	}
	return nil, fmt.Errorf("%w: no inbox group %q in this console: it shows %s", errNotFound, group, c.groupNames())
}
