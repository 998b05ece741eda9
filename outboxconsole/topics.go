package outboxconsole

import (
	"net/http"
)

// The topics page counts each topic's pending and dead events. It reads every row not
// yet published, so it is a page of its own, where the overview's counts stay bounded.

func (c *console) topicsPage(w http.ResponseWriter, r *http.Request, u user) {
	ts, err := c.cfg.Outbox.Topics(r.Context())
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	c.render(w, r, u, "topics", ts)
}

func (c *console) apiTopics(w http.ResponseWriter, r *http.Request, _ user) {
	ts, err := c.cfg.Outbox.Topics(r.Context())
	if err != nil {
		c.apiError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"topics": ts})
}
