package outboxconsole_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// In a real browser, in WAL mode: events to a topic that does not exist yet are
// dead-lettered by a real relay reading the slot; once the topic exists, a retry of two
// of them from the page emits them into the stream again and they reach Kafka in the
// order they were written. The overview shows the slot and its reader.
func TestBrowserWAL(t *testing.T) {
	t.Parallel()
	s := newSite(t, testenv.NewWALOutbox(t, outbox.Limits{}), outboxconsole.Config{})
	ids := s.poison(t, 3)

	ctx, dialogs := browser(t)
	steps(t, ctx, "sign in", chromedp.Navigate(s.URL+"/"), chromedp.SendKeys(chromedp.ID("token"), operatorSecret),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("state")))
	if c := class(t, ctx, "state"); c != "state red" {
		t.Fatalf("WAL overview with dead letters: %q, want red", c)
	}
	if got := text(t, ctx, "slot-reader"); got == "no" {
		t.Fatalf("the overview says no relay reads the slot")
	}
	screenshots(t, "postgres")(ctx, "overview-wal")
	steps(t, ctx, "retry two",
		chromedp.Navigate(s.URL+"/dead"),
		tick(ids[2], ids[0]),
		chromedp.Click(chromedp.ID("retry-selected")),
		chromedp.Click(chromedp.ID("confirm")))
	if n := text(t, ctx, "count"); n != "2" {
		t.Fatalf("the retry says %s, want 2", n)
	}
	recs := testenv.Consume(t, s.topic, 2, 60*time.Second)
	if len(recs) != 2 || string(recs[0].Value) != "k/0" || string(recs[1].Value) != "k/2" {
		t.Fatalf("Kafka got %v after the retry; want k/0 then k/2", values(recs))
	}
	if dialogs.Load() != 0 {
		t.Fatal("a dialog opened")
	}
}
