package outboxconsole

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxstore"
)

// Role is what a token may do.
type Role string

const (
	// Viewer reads every page and GET of the API.
	Viewer Role = "viewer"
	// Operator also retries and purges dead letters.
	Operator Role = "operator"
)

// Token lets whoever holds Secret in as Name, with Role.
type Token struct {
	// Name says who holds the token, in the audit log; never the secret.
	Name   string
	Secret string
	Role   Role
}

// InboxGroup is one consumer group of an inbox.
type InboxGroup struct {
	Group string
	Admin *inbox.Admin
}

// Config is the console's configuration.
type Config struct {
	// Outbox is the outbox the console shows and acts on. Required.
	Outbox *outboxstore.Admin
	// Inboxes are consumer groups whose dead letters the console shows and acts on
	// too, each in its inbox. Default none.
	Inboxes []InboxGroup
	// Kafka, when set, is a client of the cluster the relays publish to: the overview
	// asks it whether a broker answers, and turns red when none does. Default none: the
	// overview then sees Kafka only through the oldest pending event's age.
	Kafka *kgo.Client
	// PrometheusURL, when set, is the Prometheus that scrapes the relays: the overview
	// charts their publish rate (outbox_relay_events_total{outcome="sent"}) over the
	// last fifteen minutes. Default none: the database keeps no count of what was sent.
	PrometheusURL string
	// PrometheusSelector narrows the relays' series to this outbox's, as label
	// matchers: job="orders-relay". Default none (every relay Prometheus scrapes).
	PrometheusSelector string
	// Tokens sign users in. New refuses none unless InsecureNoAuth is set.
	Tokens []Token
	// InsecureNoAuth lets anyone on the same machine in as an operator: the console then
	// answers requests from loopback addresses only. Default false.
	InsecureNoAuth bool
	// TraceURL links an event that carries a traceparent header to its trace: {trace_id}
	// is replaced by the trace's id, as in http://127.0.0.1:16686/trace/{trace_id}
	// (Jaeger) or https://grafana.example/explore?...{trace_id} (Tempo). Default none.
	TraceURL string
	// StaleAfter is the age of the oldest pending event past which the overview turns
	// red: the relays are not keeping up, or cannot reach Kafka. Default 1m.
	StaleAfter time.Duration
	// PayloadLimit is the most bytes of a payload an event's page shows. Default 64 KiB.
	PayloadLimit int
	// Prefix is the path the console is mounted at, without the trailing slash, as in
	// mux.Handle("/outbox/", http.StripPrefix("/outbox", h)): its links and its cookie's
	// path start with it. Default "" (the root).
	Prefix string
	// SessionTTL is how long a browser stays signed in. Default 12h.
	SessionTTL time.Duration
	// Logger receives the audit log (who, what, filter, count) and errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults, as Config's fields document them.
const (
	DefaultStaleAfter   = time.Minute
	DefaultPayloadLimit = 64 << 10
	DefaultSessionTTL   = 12 * time.Hour
)

// validate fills in the defaults and checks what cannot work.
func (c *Config) validate() error {
	var errs []error
	if c.Outbox == nil {
		errs = append(errs, errors.New("Config.Outbox is nil: pass the store's Admin()"))
	}
	if len(c.Tokens) == 0 && !c.InsecureNoAuth {
		errs = append(errs, errors.New("no Tokens: give viewer and operator tokens, or set InsecureNoAuth to serve loopback clients without signing in"))
	}
	groups := map[string]bool{}
	for i, g := range c.Inboxes {
		switch {
		case g.Admin == nil || g.Group == "":
			errs = append(errs, fmt.Errorf("Inboxes[%d]: give the group and the inbox's Admin()", i))
		case groups[g.Group]:
			errs = append(errs, fmt.Errorf("Inboxes[%d]: group %q twice", i, g.Group))
		}
		groups[g.Group] = true
	}
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		switch {
		case t.Role != Viewer && t.Role != Operator:
			errs = append(errs, fmt.Errorf("Tokens[%d] (%s): role %q: use viewer or operator", i, t.Name, t.Role))
		case len(t.Secret) < 16:
			errs = append(errs, fmt.Errorf("Tokens[%d] (%s): the secret has %d characters: use at least 16 random ones", i, t.Name, len(t.Secret)))
		case seen[t.Secret]:
			errs = append(errs, fmt.Errorf("Tokens[%d] (%s): the same secret as another token", i, t.Name))
		case t.Name == "" || strings.ContainsAny(t.Name, ":\n"):
			errs = append(errs, fmt.Errorf("Tokens[%d]: name %q: give a name without ':' or newlines, for the audit log", i, t.Name))
		}
		seen[t.Secret] = true
	}
	if c.TraceURL != "" && !strings.Contains(c.TraceURL, "{trace_id}") {
		errs = append(errs, fmt.Errorf("TraceURL %q has no {trace_id}", c.TraceURL))
	}
	if strings.ContainsAny(c.PrometheusSelector, "{}") {
		errs = append(errs, fmt.Errorf("PrometheusSelector %q: give the label matchers without braces, as in job=\"orders-relay\"", c.PrometheusSelector))
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/")) {
		errs = append(errs, fmt.Errorf("Prefix %q: start it with / and end it without, as in /outbox", c.Prefix))
	}
	if c.StaleAfter < 0 || c.PayloadLimit < 0 || c.SessionTTL < 0 {
		errs = append(errs, errors.New("StaleAfter, PayloadLimit and SessionTTL cannot be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("outboxconsole: %w: %w", outbox.ErrInvalidConfig, err)
	}
	c.StaleAfter = or(c.StaleAfter, DefaultStaleAfter)
	c.PayloadLimit = or(c.PayloadLimit, DefaultPayloadLimit)
	c.SessionTTL = or(c.SessionTTL, DefaultSessionTTL)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
