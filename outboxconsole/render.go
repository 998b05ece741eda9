package outboxconsole

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// pageData is what every page's template gets: the page's own data in Data.
type pageData struct {
	Base     string // Config.Prefix
	User     string
	Operator bool
	CSRF     string
	Table    string
	Groups   []string // the inbox groups shown
	Data     any
}

func (c *console) render(w http.ResponseWriter, r *http.Request, u user, name string, data any) {
	d := pageData{Base: c.cfg.Prefix, User: u.name, Operator: u.role == Operator, CSRF: c.auth.csrf(r),
		Table: c.cfg.Outbox.Table(), Data: data}
	for _, g := range c.cfg.Inboxes {
		d.Groups = append(d.Groups, g.Group)
	}
	var b bytes.Buffer
	if err := c.pages.ExecuteTemplate(&b, name, d); err != nil {
		c.cfg.Logger.Error("outbox console: render", "page", name, "err", err)
		http.Error(w, "the page could not be drawn: see the console's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = b.WriteTo(w)
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	},
	"age": func(d time.Duration) string {
		if d == 0 {
			return "none pending"
		}
		return d.Round(time.Millisecond).String()
	},
	"bytes": func(n int64) string {
		switch {
		case n < 0:
			return "unlimited"
		case n < 1<<20:
			return fmt.Sprintf("%d B", n)
		default:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		}
	},
}
