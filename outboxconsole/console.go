package outboxconsole

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/firstunicorn/outbox"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// OpenAPI is the JSON API's OpenAPI 3 description, also served at
// /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// console serves the pages and the API of one outbox.
type console struct {
	cfg   Config
	auth  *auth
	pages *template.Template
	rater *rater // nil without Config.PrometheusURL
}

// New returns the console's handler, cfg validated and its defaults filled in.
func New(cfg Config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &console{cfg: cfg, auth: newAuth(&cfg)}
	var err error
	if c.rater, err = newRater(&cfg); err != nil {
		return nil, fmt.Errorf("outboxconsole: %w: %w", outbox.ErrInvalidConfig, err)
	}
	c.pages, err = template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.logout)
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, user)) {
		mux.HandleFunc(pattern, c.signedIn(h, false))
	}
	page("GET /{$}", c.overviewPage)
	page("GET /dead", c.deadPage)
	page("GET /inbox/{group}/dead", c.deadPage)
	page("GET /events/{id}", c.eventPage)
	page("GET /find", c.find)
	page("GET /relays", c.relaysPage)
	page("GET /topics", c.topicsPage)
	page("POST /actions", c.action)
	api := func(pattern string, h func(http.ResponseWriter, *http.Request, user)) {
		mux.HandleFunc(pattern, c.signedIn(h, true))
	}
	api("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request, _ user) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	api("GET /api/v1/overview", c.apiOverview)
	api("GET /api/v1/relays", c.apiRelays)
	api("GET /api/v1/topics", c.apiTopics)
	api("GET /api/v1/dead", c.apiDead)
	api("GET /api/v1/inbox/{group}/dead", c.apiDead)
	api("POST /api/v1/inbox/{group}/dead/retry", c.apiAct("retry"))
	api("POST /api/v1/inbox/{group}/dead/purge", c.apiAct("purge"))
	api("GET /api/v1/events/{id}", c.apiEvent)
	api("POST /api/v1/dead/retry", c.apiAct("retry"))
	api("POST /api/v1/dead/purge", c.apiAct("purge"))
	return c.secure(mux), nil
}

// secure sets the headers every response carries: no script and no framing, nothing
// sniffed, cached or sent on as a referrer; and, with InsecureNoAuth, serves this
// machine only.
func (c *console) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if c.cfg.InsecureNoAuth && !loopback(r) {
			http.Error(w, "this console runs without sign-in (InsecureNoAuth) and serves this machine only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// signedIn runs h for a signed-in user. A POST needs an operator, and from a browser
// session a CSRF token (form field csrf, or header X-CSRF-Token).
func (c *console) signedIn(h func(http.ResponseWriter, *http.Request, user), api bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := c.auth.who(r)
		if !ok {
			if api {
				w.Header().Set("WWW-Authenticate", `Bearer realm="outbox console"`)
				c.apiError(w, http.StatusUnauthorized, errors.New("sign in: send Authorization: Bearer <token>"))
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
			c.render(w, r, user{}, "login", map[string]any{"Next": r.URL.RequestURI()})
			return
		}
		if r.Method == http.MethodPost {
			if u.role != Operator {
				c.fail(w, r, u, api, http.StatusForbidden, errors.New("only an operator may change the outbox: this token is a viewer's"))
				return
			}
			if !u.bearer && !c.auth.csrfOK(r, csrfFrom(r)) {
				c.fail(w, r, u, api, http.StatusForbidden, errors.New("the form's CSRF token is missing or stale: reload the page and try again"))
				return
			}
		}
		if !u.bearer && c.cfg.InsecureNoAuth && c.auth.csrf(r) == "" {
			// An anonymous browser gets a session all the same, for its CSRF token.
			v := c.auth.newSession(u)
			c.auth.setSession(w, v, int(c.cfg.SessionTTL.Seconds()))
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		}
		h(w, r, u)
	}
}

func csrfFrom(r *http.Request) string {
	if t := r.Header.Get("X-CSRF-Token"); t != "" {
		return t
	}
	return r.PostFormValue("csrf")
}

// fail answers an error: JSON for the API, a page for the browser.
func (c *console) fail(w http.ResponseWriter, r *http.Request, u user, api bool, code int, err error) {
	if api {
		c.apiError(w, code, err)
		return
	}
	w.WriteHeader(code)
	c.render(w, r, u, "error", map[string]any{"Code": code, "Error": err.Error()})
}

func (c *console) apiError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errNotFound is the error of a path to something the console does not have.
var errNotFound = errors.New("not found")

// status is the HTTP status of an error from the store: a bad argument is the caller's.
func status(err error) int {
	switch {
	case errors.Is(err, outbox.ErrInvalidConfig):
		return http.StatusBadRequest
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// groupNames lists the inbox groups the console shows, for an error.
func (c *console) groupNames() string {
	if len(c.cfg.Inboxes) == 0 {
		return "none"
	}
	var names []string
	for _, g := range c.cfg.Inboxes {
		names = append(names, strconv.Quote(g.Group))
	}
	return strings.Join(names, ", ")
}

// clean is an error's text without its wrapping prefix, for a page.
func clean(err error) string { return strings.TrimPrefix(err.Error(), "outbox: ") }
