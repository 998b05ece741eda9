package outboxconsole_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// browser starts a headless Chromium (Debian's, from scripts/services.sh up chromium)
// and counts the JavaScript dialogs any page opens: markup from an event that ran
// would open one.
func browser(t *testing.T) (context.Context, *atomic.Int32) {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Need(t, "chromium", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelT(); cancel(); cancelAlloc() })
	dialogs := &atomic.Int32{}
	opened := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range opened {
			if err != nil {
				return
			}
			dialogs.Add(1)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx, dialogs
}

// In a real browser, on each database: events sent to a topic that does not exist yet
// are dead-lettered by a real relay; sign in, see the overview red with dead letters,
// filter them by key, open one, retry a selection of two and see them reach
// Kafka in their written order, purge one; markup in events never runs; the overview
// turns green once nothing is dead.
func TestBrowser(t *testing.T) {
	testenv.EachDB(t, testBrowser)
}

func testBrowser(t *testing.T, db string) {
	s := newSite(t, testenv.NewOutbox(t, db, outbox.Limits{}), outboxconsole.Config{TraceURL: "http://127.0.0.1:16686/trace/{trace_id}"})
	xss := s.markup(t)
	ids := append(s.poison(t, 4), xss) // a relay runs from here on
	ctx, dialogs := browser(t)
	shots := screenshots(t, db)
	steps(t, ctx, "sign in",
		chromedp.Navigate(s.URL+"/"),
		chromedp.SendKeys(chromedp.ID("token"), operatorSecret),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("state")))
	if c := class(t, ctx, "state"); c != "state red" {
		t.Fatalf("overview with dead letters: #state class %q, want red", c)
	}
	shots(ctx, "overview-red")
	steps(t, ctx, "topics", chromedp.Navigate(s.URL+"/topics"))
	if n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("tr.topic"))); err != nil || len(n) != 2 {
		t.Fatalf("the topics page lists %d topics (%v), want 2", len(n), err)
	}
	shots(ctx, "topics")
	steps(t, ctx, "list", chromedp.Navigate(s.URL+"/dead"))
	if n := rows(t, ctx); n != 5 {
		t.Fatalf("the dead letters page lists %d, want 5", n)
	}
	steps(t, ctx, "filter by key",
		chromedp.SendKeys(chromedp.CSS(`#filter input[name="key"]`), "k"),
		chromedp.Click(chromedp.ID("apply")),
		chromedp.WaitNotPresent(chromedp.CSS(`input[value="`+ids[4]+`"]`)))
	if n := rows(t, ctx); n != 4 {
		t.Fatalf("filtered by key k: %d rows, want 4", n)
	}
	shots(ctx, "dead")
	steps(t, ctx, "open the event with markup", chromedp.Navigate(s.URL+"/events/"+ids[4]))
	if got := text(t, ctx, "event-key"); got != xssAttr {
		t.Fatalf("the key shows as %q, want the text %q", got, xssAttr)
	}
	if got := text(t, ctx, "payload"); got != xssScript {
		t.Fatalf("the payload shows as %q, want the text %q", got, xssScript)
	}
	shots(ctx, "event")

	// Retry key k's third and first events, ticked in that order.
	steps(t, ctx, "retry a selection",
		chromedp.Navigate(s.URL+"/dead?key=k"),
		tick(ids[2], ids[0]),
		chromedp.Click(chromedp.ID("retry-selected")),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	shots(ctx, "confirm")
	steps(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm")))
	if n := text(t, ctx, "count"); n != "2" {
		t.Fatalf("the retry says it touched %s events, want 2", n)
	}
	recs := testenv.Consume(t, s.topic, 2, 30*time.Second)
	if len(recs) != 2 || string(recs[0].Value) != "k/0" || string(recs[1].Value) != "k/2" {
		t.Fatalf("Kafka got %d records after the retry: %v; want k/0 then k/2", len(recs), values(recs))
	}
	steps(t, ctx, "relays", chromedp.Navigate(s.URL+"/relays"))
	if n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("tr.relay"))); err != nil || len(n) != 1 {
		t.Fatalf("the relays page lists %d relays (%v), want the one running", len(n), err)
	}
	shots(ctx, "relays")

	steps(t, ctx, "purge one",
		chromedp.Navigate(s.URL+"/dead?key=k"),
		tick(ids[1]),
		chromedp.Click(chromedp.ID("purge-selected")),
		chromedp.Click(chromedp.ID("confirm")))
	if n := text(t, ctx, "count"); n != "1" {
		t.Fatalf("the purge says it touched %s events, want 1", n)
	}
	steps(t, ctx, "purge the rest by filter",
		chromedp.Navigate(s.URL+"/dead"),
		chromedp.Click(chromedp.ID("purge-matching")),
		chromedp.Click(chromedp.ID("confirm")))
	if n := text(t, ctx, "count"); n != "2" {
		t.Fatalf("the purge of all says it touched %s events, want 2", n)
	}
	steps(t, ctx, "overview", chromedp.Navigate(s.URL+"/"))
	if c := class(t, ctx, "state"); c != "state green" {
		t.Fatalf("overview with nothing dead or pending: #state class %q, want green", c)
	}
	shots(ctx, "overview-green")
	if n := dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened: markup from an event ran", n)
	}
	if p, err := s.Store.Admin().FindDead(context.Background(), outboxstore.DeadQuery{}); err != nil || len(p.Events) != 0 {
		t.Fatalf("dead letters left: %+v, %v", p, err)
	}
}

func steps(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// tick ticks the list's boxes of the events ids, in the order given.
func tick(ids ...string) chromedp.Action[chromedp.Void] {
	var clicks []chromedp.Action[chromedp.Void]
	for _, id := range ids {
		clicks = append(clicks, chromedp.Click(chromedp.CSS(`input[value="`+id+`"]`)))
	}
	return chromedp.Steps(clicks...)
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return v
}

func class(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID(id), "class"))
	if err != nil {
		t.Fatalf("class of #%s: %v", id, err)
	}
	return v.Value
}

// rows counts the dead letters the page lists.
func rows(t *testing.T, ctx context.Context) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("tr.event")))
	if err != nil {
		t.Fatalf("rows: %v", err)
	}
	return len(n)
}

// publish runs a relay over the site's outbox until the test ends.
func (s *site) publish(t *testing.T) {
	t.Helper()
	pub, err := outboxkafka.New(testenv.Client(t, outboxkafka.ProducerOpts()...), nil)
	if err != nil {
		t.Fatal(err)
	}
	// MaxAttempts 1: a poison event dies at its first permanent failure.
	r, err := relay.New(s.Store, pub, &relay.Config{LeaseTTL: 3 * time.Second, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, r)
}

// screenshots saves full-page PNGs into $OUTBOX_CONSOLE_SCREENSHOTS (docs/img when
// refreshing the docs' pictures), for the PostgreSQL run only; nothing when unset.
func screenshots(t *testing.T, db string) func(ctx context.Context, name string) {
	dir := os.Getenv("OUTBOX_CONSOLE_SCREENSHOTS")
	return func(ctx context.Context, name string) {
		if dir == "" || db != "postgres" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
