package outboxconsole_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Who may do what: no token is 401, a viewer may look but not act (403), a browser
// session must send its CSRF token with each POST (403 without), and every response
// carries the headers that keep script and framing out.
func TestAccess(t *testing.T) {
	s := newSite(t, testenv.NewOutbox(t, "postgres", outbox.Limits{}), outboxconsole.Config{})
	ids := s.seed(t)
	c := client(t)
	json := "application/json"
	retry := `{"ids":["` + ids[0] + `"]}`
	for _, tc := range []struct {
		name, method, path, bearer, body string
		want                             int
	}{
		{"API without a token", "GET", "/api/v1/overview", "", "", http.StatusUnauthorized},
		{"API with a wrong token", "GET", "/api/v1/dead", "not-a-token-of-this-console", "", http.StatusUnauthorized},
		{"page without a session", "GET", "/dead", "", "", http.StatusUnauthorized},
		{"viewer reads", "GET", "/api/v1/dead", viewerSecret, "", http.StatusOK},
		{"viewer reads a page", "GET", "/events/" + ids[0], viewerSecret, "", http.StatusOK},
		{"viewer retries", "POST", "/api/v1/dead/retry", viewerSecret, retry, http.StatusForbidden},
		{"viewer purges", "POST", "/api/v1/dead/purge", viewerSecret, retry, http.StatusForbidden},
		{"nobody retries", "POST", "/api/v1/dead/retry", "", retry, http.StatusUnauthorized},
		{"operator, bad body", "POST", "/api/v1/dead/retry", operatorSecret, `{"ids":[],"oops":1}`, http.StatusBadRequest},
		{"operator, bad id", "POST", "/api/v1/dead/retry", operatorSecret, `{"ids":["<x>"]}`, http.StatusBadRequest},
		{"bad filter", "GET", "/api/v1/dead?since=yesterday", viewerSecret, "", http.StatusBadRequest},
		{"operator retries one", "POST", "/api/v1/dead/retry", operatorSecret, retry, http.StatusOK},
	} {
		var code int
		var body string
		if tc.method == "GET" {
			code, body, _ = get(t, c, s.URL+tc.path, tc.bearer)
		} else {
			code, body = post(t, c, s.URL+tc.path, tc.bearer, json, tc.body)
		}
		if code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	if !strings.Contains(s.audit.String(), "user=otto action=retry count=1") {
		t.Errorf("the audit log lacks the operator's retry:\n%s", s.audit)
	}

	// A browser session: a viewer's POST is refused, and an operator's without the
	// form's CSRF token.
	viewer := client(t)
	s.login(t, viewer, viewerSecret)
	_, page, _ := get(t, viewer, s.URL+"/dead", "")
	form := url.Values{"action": {"retry"}, "scope": {"selected"}, "id": {ids[1]}, "confirm": {"yes"}, "csrf": {csrf(t, page)}}
	if code, body := post(t, viewer, s.URL+"/actions", "", "application/x-www-form-urlencoded", form.Encode()); code != http.StatusForbidden {
		t.Errorf("viewer's form POST: %d %s", code, body)
	}
	op := client(t)
	s.login(t, op, operatorSecret)
	_, page, _ = get(t, op, s.URL+"/dead", "")
	form.Del("csrf")
	if code, _ := post(t, op, s.URL+"/actions", "", "application/x-www-form-urlencoded", form.Encode()); code != http.StatusForbidden {
		t.Errorf("operator's form POST without the CSRF token: %d, want 403", code)
	}
	form.Set("csrf", "forged")
	if code, _ := post(t, op, s.URL+"/actions", "", "application/x-www-form-urlencoded", form.Encode()); code != http.StatusForbidden {
		t.Errorf("operator's form POST with a forged CSRF token: %d, want 403", code)
	}
	form.Set("csrf", csrf(t, page))
	if code, body := post(t, op, s.URL+"/actions", "", "application/x-www-form-urlencoded", form.Encode()); code != http.StatusOK || !strings.Contains(body, `id="count">1<`) {
		t.Errorf("operator's form POST with the CSRF token: %d %s", code, body)
	}
	if code, _, _ := get(t, client(t), s.URL+"/login", ""); code != http.StatusOK {
		t.Errorf("the login page: %d", code)
	}

	for _, p := range []string{"/", "/dead", "/events/" + ids[2], "/api/v1/overview", "/login", "/static/console.css"} {
		_, _, h := get(t, op, s.URL+p, "")
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers %v", p, h)
		}
	}
	for _, c := range (&http.Response{Header: http.Header{"Set-Cookie": loginCookies(t, s)}}).Cookies() {
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
		}
	}
}

func loginCookies(t *testing.T, s *site) []string {
	resp, err := client(t).PostForm(s.URL+"/login", url.Values{"token": {operatorSecret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Values("Set-Cookie")
}

func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// What events carry is text: markup in a key, payload, header or error comes out
// escaped on every page that shows it.
func TestMarkupInert(t *testing.T) {
	s := newSite(t, testenv.NewOutbox(t, "postgres", outbox.Limits{}), outboxconsole.Config{TraceURL: "http://127.0.0.1:16686/trace/{trace_id}"})
	ids := s.seed(t)
	c := client(t)
	s.login(t, c, viewerSecret)
	for _, p := range []string{"/dead", "/events/" + ids[4], "/dead?error=" + url.QueryEscape(xssScript)} {
		_, body, _ := get(t, c, s.URL+p, "")
		if strings.Contains(body, xssScript) || strings.Contains(body, "<img") {
			t.Errorf("%s renders markup from an event:\n%s", p, body)
		}
		if !strings.Contains(body, html.EscapeString(xssScript)) && !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s does not show the escaped text", p)
		}
	}
	_, body, _ := get(t, c, s.URL+"/events/"+ids[4], "")
	if !strings.Contains(body, `href="http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Errorf("the event's page has no trace link:\n%s", body)
	}
}

// New refuses a configuration that cannot work, naming what to change.
func TestConfig(t *testing.T) {
	adm := testenv.NewOutbox(t, "sqlite", outbox.Limits{}).Store.Admin()
	for _, tc := range []struct {
		cfg  outboxconsole.Config
		want string
	}{
		{outboxconsole.Config{}, "Config.Outbox is nil"},
		{outboxconsole.Config{Outbox: adm}, "no Tokens"},
		{outboxconsole.Config{Outbox: adm, Tokens: []outboxconsole.Token{{Name: "a", Secret: "short", Role: outboxconsole.Viewer}}}, "at least 16"},
		{outboxconsole.Config{Outbox: adm, Tokens: []outboxconsole.Token{{Name: "a", Secret: operatorSecret, Role: "admin"}}}, `role "admin"`},
		{outboxconsole.Config{Outbox: adm, InsecureNoAuth: true, TraceURL: "http://jaeger/trace/"}, "no {trace_id}"},
		{outboxconsole.Config{Outbox: adm, InsecureNoAuth: true, Prefix: "outbox/"}, "Prefix"},
	} {
		_, err := outboxconsole.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), operatorSecret) {
			t.Errorf("New(%+v): %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}
