package outboxconsole

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// user is who a request comes from. bearer: it signed in with a token in the request
// itself, which a browser does not add on its own, so it needs no CSRF token.
type user struct {
	name   string
	role   Role
	bearer bool
}

// auth checks tokens and the session cookies it signs. Tokens are kept as their
// SHA-256 only, and compared in constant time.
type auth struct {
	tokens   []storedToken
	key      []byte // signs session cookies and CSRF tokens; new each start
	ttl      time.Duration
	insecure bool
	path     string // the cookie's path
}

type storedToken struct {
	sum  [sha256.Size]byte
	name string
	role Role
}

const sessionCookie = "outbox_console"

func newAuth(c *Config) *auth {
	a := &auth{key: make([]byte, 32), ttl: c.SessionTTL, insecure: c.InsecureNoAuth, path: c.Prefix + "/"}
	_, _ = rand.Read(a.key) // crypto/rand.Read does not fail
	for _, t := range c.Tokens {
		a.tokens = append(a.tokens, storedToken{sha256.Sum256([]byte(t.Secret)), t.Name, t.Role})
	}
	return a
}

// byToken is the user a token's secret belongs to.
func (a *auth) byToken(secret string) (user, bool) {
	sum := sha256.Sum256([]byte(secret))
	var (
		u  user
		ok bool
	)
	for _, t := range a.tokens { // every token, so the time says nothing of which matched
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			u, ok = user{name: t.name, role: t.role}, true
		}
	}
	return u, ok
}

// who is the request's user: from its bearer token, else its session cookie, else,
// with InsecureNoAuth, an anonymous operator.
func (a *auth) who(r *http.Request) (user, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		secret, found := strings.CutPrefix(h, "Bearer ")
		if !found {
			return user{}, false
		}
		u, ok := a.byToken(secret)
		u.bearer = true
		return u, ok
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if u, ok := a.session(c.Value); ok {
			return u, true
		}
	}
	if a.insecure {
		return user{name: "anonymous", role: Operator}, true
	}
	return user{}, false
}

// newSession is a signed cookie value for u: name, role and expiry, then their MAC.
func (a *auth) newSession(u user) string {
	body := base64.RawURLEncoding.EncodeToString([]byte(u.name)) + "." + string(u.role) + "." +
		strconv.FormatInt(time.Now().Add(a.ttl).Unix(), 10)
	return body + "." + a.mac("session", body)
}

func (a *auth) session(v string) (user, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || !hmac.Equal([]byte(v[i+1:]), []byte(a.mac("session", v[:i]))) {
		return user{}, false
	}
	parts := strings.Split(v[:i], ".")
	if len(parts) != 3 {
		return user{}, false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || err2 != nil || time.Now().Unix() > exp {
		return user{}, false
	}
	return user{name: string(name), role: Role(parts[1])}, true
}

func (a *auth) mac(purpose, s string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(purpose + ":" + s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrf is the CSRF token of a session: a form must send it back with each POST. It is
// bound to the session cookie, which another site can neither read nor choose.
func (a *auth) csrf(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return a.mac("csrf", c.Value)
}

func (a *auth) csrfOK(r *http.Request, token string) bool {
	want := a.csrf(r)
	return want != "" && hmac.Equal([]byte(token), []byte(want))
}

func (a *auth) setSession(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: a.path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// loopback says whether the request comes from this machine: what InsecureNoAuth serves.
func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
