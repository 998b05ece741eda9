package outboxconsole

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/firstunicorn/outbox/outboxstore"
)

// act is one retry or purge: of the dead events ids, or of every dead event filter
// selects when ids is nil; the outbox's, or group's in its inbox.
type act struct {
	verb   string // "retry" or "purge"
	group  string
	ids    []string
	filter *outboxstore.DeadQuery
}

func (c *console) do(ctx context.Context, u user, a act) (int64, error) {
	n, err := c.apply(ctx, a)
	attrs := []any{"user", u.name, "action", a.verb, "count", n}
	if a.group != "" {
		attrs = append(attrs, "group", a.group)
	}
	if a.filter != nil {
		attrs = append(attrs, "filter", filterValues(*a.filter).Encode())
	} else {
		attrs = append(attrs, "ids", a.ids)
	}
	if err != nil {
		c.cfg.Logger.Error("outbox console: action failed", append(attrs, "err", err)...)
		return n, err
	}
	c.cfg.Logger.Info("outbox console: audit", attrs...)
	return n, nil
}

func (c *console) apply(ctx context.Context, a act) (int64, error) {
	if a.group != "" {
		ib, err := c.inbox(a.group)
		if err != nil {
			return 0, err
		}
		switch {
		case a.verb == "retry" && a.filter == nil:
			return ib.Retry(ctx, a.group, a.ids...)
		case a.filter == nil:
			return ib.PurgeDead(ctx, a.group, a.ids...)
		}
		q, err := inboxQuery(*a.filter)
		if err != nil {
			return 0, err
		}
		if a.verb == "retry" {
			return ib.RetryMatching(ctx, a.group, q)
		}
		return ib.PurgeDeadMatching(ctx, a.group, q)
	}
	adm := c.cfg.Outbox
	switch {
	case a.verb == "retry" && a.filter == nil:
		return adm.Retry(ctx, a.ids...)
	case a.verb == "retry":
		return adm.RetryMatching(ctx, *a.filter)
	case a.filter == nil:
		return adm.PurgeDead(ctx, a.ids...)
	default:
		return adm.PurgeDeadMatching(ctx, *a.filter)
	}
}

// action is the pages' POST: it asks for confirmation first (confirm=yes), then acts
// and says how many events it touched.
func (c *console) action(w http.ResponseWriter, r *http.Request, u user) {
	a, err := formAct(r)
	if err != nil {
		c.fail(w, r, u, false, http.StatusBadRequest, err)
		return
	}
	view := map[string]any{"Verb": a.verb, "Group": a.group, "IDs": a.ids, "Selected": a.filter == nil}
	if a.filter != nil {
		view["Filter"] = filterValues(*a.filter)
	}
	if r.PostFormValue("confirm") != "yes" {
		if a.filter != nil {
			view["Count"], view["More"] = c.countMatching(r, a.group, *a.filter)
		}
		c.render(w, r, u, "confirm", view)
		return
	}
	n, err := c.do(r.Context(), u, a)
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	view["Done"] = n
	c.render(w, r, u, "done", view)
}

func formAct(r *http.Request) (act, error) {
	if err := r.ParseForm(); err != nil {
		return act{}, err
	}
	a := act{verb: r.PostFormValue("action"), group: r.PostFormValue("group")}
	if a.verb != "retry" && a.verb != "purge" {
		return a, fmt.Errorf("action %q: use retry or purge", a.verb)
	}
	switch r.PostFormValue("scope") {
	case "selected":
		a.ids = r.PostForm["id"]
		if len(a.ids) == 0 {
			return a, errors.New("no event selected: tick the events to act on")
		}
	case "matching":
		q, err := deadQuery(r.PostForm)
		if err != nil {
			return a, err
		}
		q.After, q.Limit = "", 0
		a.filter = &q
	default:
		return a, errors.New("scope: use selected or matching")
	}
	return a, nil
}

// countMatching counts, up to a bound, the dead events q selects: what a confirmation
// says an action will touch.
func (c *console) countMatching(r *http.Request, group string, q outboxstore.DeadQuery) (n int, more bool) {
	q.Limit = 1000
	for range 10 {
		_, rows, next, err := c.findDead(r, group, q)
		if err != nil {
			return n, false
		}
		n += len(rows)
		if next == "" {
			return n, false
		}
		q.After = next
	}
	return n, true
}

// apiBody is what POST /api/v1/dead/retry and /purge take: ids, or a filter (whose
// empty form selects every dead event).
type apiBody struct {
	IDs    []string               `json:"ids"`
	Filter *outboxstore.DeadQuery `json:"filter"`
}

func (c *console) apiAct(verb string) func(http.ResponseWriter, *http.Request, user) {
	return func(w http.ResponseWriter, r *http.Request, u user) {
		var b apiBody
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			c.apiError(w, http.StatusBadRequest, fmt.Errorf("body: %w: send {\"ids\": [...]} or {\"filter\": {...}}", err))
			return
		}
		if (len(b.IDs) == 0) == (b.Filter == nil) {
			c.apiError(w, http.StatusBadRequest, errors.New(`send either "ids" or "filter" ({} selects every dead event)`))
			return
		}
		a := act{verb: verb, group: r.PathValue("group"), ids: b.IDs, filter: b.Filter}
		n, err := c.do(r.Context(), u, a)
		if err != nil {
			c.apiError(w, status(err), err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"count": n})
	}
}
