package outboxconsole

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/firstunicorn/outbox/outboxstore"
)

type eventView struct {
	outboxstore.EventInfo
	// Body is the payload to show: indented when it is JSON, as text when it is UTF-8,
	// else hex; cut at Config.PayloadLimit (Truncated).
	Body      string
	BodyKind  string // "json", "text" or "hex"
	Truncated bool
	TraceURL  string
}

func (c *console) eventView(ev outboxstore.EventInfo) eventView {
	v := eventView{EventInfo: ev}
	p := ev.Payload
	if len(p) > c.cfg.PayloadLimit {
		p, v.Truncated = p[:c.cfg.PayloadLimit], true
	}
	var out bytes.Buffer
	switch {
	case !v.Truncated && json.Valid(p) && json.Indent(&out, p, "", "  ") == nil:
		v.Body, v.BodyKind = out.String(), "json"
	case utf8.Valid(p):
		v.Body, v.BodyKind = string(p), "text"
	default:
		v.Body, v.BodyKind = hex.Dump(p), "hex"
	}
	if tid := traceID(ev.Headers["traceparent"]); tid != "" && c.cfg.TraceURL != "" {
		v.TraceURL = strings.ReplaceAll(c.cfg.TraceURL, "{trace_id}", tid)
	}
	return v
}

// traceID is the trace id of a W3C traceparent (version-traceid-parentid-flags), or
// "" when it is not one.
func traceID(tp string) string {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return ""
	}
	return parts[1]
}

func (c *console) eventPage(w http.ResponseWriter, r *http.Request, u user) {
	ev, err := c.cfg.Outbox.Event(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, u, false, status(err), err)
		return
	}
	c.render(w, r, u, "event", c.eventView(ev))
}

// find goes to the page of the event whose id the form gave.
func (c *console) find(w http.ResponseWriter, r *http.Request, _ user) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	http.Redirect(w, r, c.cfg.Prefix+"/events/"+url.PathEscape(id), http.StatusSeeOther)
}

func (c *console) apiEvent(w http.ResponseWriter, r *http.Request, _ user) {
	ev, err := c.cfg.Outbox.Event(r.Context(), r.PathValue("id"))
	if err != nil {
		c.apiError(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}
