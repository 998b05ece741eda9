package outboxconsole_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// In a real browser, in WAL mode: events to a topic that does not exist yet are
// dead-lettered by a real relay reading the slot; once the topic exists, a retry of two
// of them from the page emits them into the stream again and they reach Kafka in the
// order they were written. The overview shows the slot and its reader.
func TestBrowserWAL(t *testing.T) {
	t.Parallel()
	s := newSite(t, testenv.NewWALOutbox(t, outbox.Limits{}), outboxconsole.Config{})
	s.topic = testenv.Name("late")
	var ms []outbox.Message
	for i := range 3 {
		ms = append(ms, outbox.Message{Topic: s.topic, Key: []byte("k"), Type: "order.created", Payload: []byte(fmt.Sprint("k/", i))})
	}
	if err := s.Write(context.Background(), ms...); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	var dead outboxstore.DeadPage
	waitUntil(t, "three dead letters from the relay", func() bool {
		dead, _ = s.Store.Admin().FindDead(context.Background(), outboxstore.DeadQuery{})
		return len(dead.Events) == 3
	})
	testenv.CreateTopic(t, s.topic, 1, nil)

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
		chromedp.Click(chromedp.CSS(`input[value="`+dead.Events[2].ID+`"]`)),
		chromedp.Click(chromedp.CSS(`input[value="`+dead.Events[0].ID+`"]`)),
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
