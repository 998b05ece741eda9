package outboxconsole

import (
	"net/http"
	"strings"
	"time"
)

func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, user{}, "login", map[string]any{"Next": r.URL.Query().Get("next")})
}

// login signs a browser in with a token: a session cookie, HttpOnly and
// SameSite=Strict, so that no script reads it and no other site's form sends it.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	u, ok := c.auth.byToken(r.PostFormValue("token"))
	if !ok {
		time.Sleep(200 * time.Millisecond) // a guesser's every try costs it
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, r, user{}, "login", map[string]any{"Failed": true, "Next": r.PostFormValue("next")})
		return
	}
	c.auth.setSession(w, c.auth.newSession(u), int(c.cfg.SessionTTL.Seconds()))
	c.cfg.Logger.Info("outbox console: signed in", "user", u.name, "role", u.role)
	next := r.PostFormValue("next")
	// Only a path of this console: not //evil.example, nor an absolute URL.
	if !strings.HasPrefix(next, c.cfg.Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		next = c.cfg.Prefix + "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session. The form's CSRF token is checked: another site could
// otherwise sign the user out.
func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.auth.csrfOK(r, csrfFrom(r)) {
		http.Error(w, "the form's CSRF token is missing or stale", http.StatusForbidden)
		return
	}
	c.auth.setSession(w, "", -1)
	http.Redirect(w, r, c.cfg.Prefix+"/login", http.StatusSeeOther)
}
