package outboxconsole_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"

	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/relay/source"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

const (
	viewerSecret   = "viewer-secret-0123456789"
	operatorSecret = "operator-secret-0123456789"
)

// site is a console over a fresh outbox on one database, served on loopback.
type site struct {
	*testenv.Outbox
	URL   string
	topic string
	audit *syncBuffer // the console's log
}

func newSite(t *testing.T, o *testenv.Outbox, cfg outboxconsole.Config) *site {
	t.Helper()
	s := &site{Outbox: o, topic: testenv.Topic(t, 1, nil), audit: &syncBuffer{}}
	cfg.Outbox = o.Store.Admin()
	if cfg.Tokens == nil && !cfg.InsecureNoAuth {
		cfg.Tokens = []outboxconsole.Token{
			{Name: "vera", Secret: viewerSecret, Role: outboxconsole.Viewer},
			{Name: "otto", Secret: operatorSecret, Role: outboxconsole.Operator},
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(s.audit, nil))
	h, err := outboxconsole.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.URL = serve(t, h)
	return s
}

// serve serves h on loopback until the test ends, and returns its URL.
func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// The payloads and texts an attacker would put in an event, to run in the console.
const (
	xssScript = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(2)>`
)

// seed writes events and kills them as a relay does, and returns their ids in write
// order: four of key "k" (payloads k/0..k/3), dead as their topic was missing; then the
// one of markup.
func (s *site) seed(t *testing.T) []string {
	t.Helper()
	var ms []outbox.Message
	for i := range 4 {
		ms = append(ms, outbox.Message{Topic: s.topic, Key: []byte("k"), Type: "order.created", Payload: []byte(fmt.Sprint("k/", i))})
	}
	ids := s.kill(t, "UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.", ms...)
	return append(ids, s.markup(t))
}

// markup writes one event whose key, payload and header carry markup and kills it with
// an error that carries markup too; it returns its id.
func (s *site) markup(t *testing.T) string {
	t.Helper()
	m := outbox.Message{Topic: s.topic, Key: []byte(xssAttr), Type: "xss", Payload: []byte(xssScript),
		Headers: map[string]string{"x-evil": xssScript, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	return s.kill(t, "MESSAGE_TOO_LARGE "+xssScript+" "+xssAttr, m)[0]
}

// kill writes ms and dead-letters them with cause, through the relay's own calls (a
// batch's MarkFailed, as for a permanent failure), and returns their ids in write order.
func (s *site) kill(t *testing.T, cause string, ms ...outbox.Message) []string {
	t.Helper()
	ctx := context.Background()
	if err := s.Write(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	tbl := testenv.Table(t, s.Store)
	buckets := make([]int, tbl.Buckets())
	for i := range buckets {
		buckets[i] = i
	}
	b, err := tbl.Claim(ctx, &source.ClaimParams{Buckets: buckets, Limit: 100})
	if err != nil || b == nil || len(b.Records()) != len(ms) {
		t.Fatalf("claim: %v", err)
	}
	var (
		ids  []string
		seqs []int64
	)
	for _, r := range b.Records() {
		ids, seqs = append(ids, r.Message.ID.String()), append(seqs, r.Seq)
	}
	if _, err := b.MarkFailed(ctx, &source.FailParams{Seqs: seqs, Error: cause, MaxAttempts: 1, Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// poison writes n events of key "k" (payloads k/0, k/1, ...) to a topic that does not
// exist yet, the poison of make chaos, and runs a relay, which dead-letters them; then
// it creates the topic, so that a retry can succeed. It returns their ids in write order.
func (s *site) poison(t *testing.T, n int) []string {
	t.Helper()
	ctx := context.Background()
	s.topic = testenv.Name("late")
	var ms []outbox.Message
	for i := range n {
		ms = append(ms, outbox.Message{Topic: s.topic, Key: []byte("k"), Type: "order.created", Payload: []byte(fmt.Sprint("k/", i))})
	}
	if err := s.Write(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	var dead outboxstore.DeadPage
	waitUntil(t, "the relay's dead letters", func() bool {
		dead, _ = s.Store.Admin().FindDead(ctx, outboxstore.DeadQuery{Topic: s.topic})
		return len(dead.Events) == n
	})
	testenv.CreateTopic(t, s.topic, 1, nil)
	var ids []string
	for _, e := range dead.Events {
		if !strings.Contains(e.Error, "UNKNOWN_TOPIC") {
			t.Fatalf("a poison event died of %q, want an unknown topic", e.Error)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// client is an HTTP client that keeps cookies and does not follow redirects.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login signs c in with secret through the login form.
func (s *site) login(t *testing.T, c *http.Client, secret string) {
	t.Helper()
	resp, err := c.PostForm(s.URL+"/login", url.Values{"token": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get returns the status and body of a GET, with an optional bearer token.
func get(t *testing.T, c *http.Client, u, bearer string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, c, req)
}

func do(t *testing.T, c *http.Client, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func post(t *testing.T, c *http.Client, u, bearer, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	code, b, _ := do(t, c, req)
	return code, b
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// outboxWithInbox is a fresh outbox on PostgreSQL and a migrated inbox in its schema.
func outboxWithInbox(t *testing.T) (*testenv.Outbox, *inbox.Store[pgx.Tx]) {
	t.Helper()
	o := testenv.NewOutbox(t, "postgres", outbox.Limits{})
	ib, err := inbox.New(outboxpgx.New(testenv.Pool(t)), &inbox.Config{Schema: o.Schema})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ib.Admin().Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return o, ib
}
