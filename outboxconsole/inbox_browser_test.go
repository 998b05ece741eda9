package outboxconsole_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxconsole"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// In a real browser, an inbox group's dead letters, killed by a real consumer whose
// handler failed: the page lists them, a retry of a selection hands them to the fixed
// handler again in the order they died, and a purge removes the rest.
func TestBrowserInbox(t *testing.T) {
	t.Parallel()
	o, ib := outboxWithInbox(t)
	group := testenv.Name("inventory")
	s := newSite(t, o, outboxconsole.Config{Inboxes: []outboxconsole.InboxGroup{{Group: group, Admin: ib.Admin()}}})

	var (
		fixed   atomic.Bool
		mu      sync.Mutex
		handled []string
	)
	c, err := inbox.NewConsumer(ib, func(ctx context.Context, _ pgx.Tx, m *inbox.Message) error {
		if !fixed.Load() {
			return fmt.Errorf("%w: no stock for %s", outbox.ErrPermanent, m.Value)
		}
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, string(m.Value))
		return nil
	}, testenv.Client(t), &inbox.ConsumerConfig{Group: group, Topics: []string{s.topic}})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, c)
	var ms []outbox.Message
	for i := range 3 {
		ms = append(ms, outbox.Message{Topic: s.topic, Key: []byte("bad"), Type: "order.placed", Payload: []byte(fmt.Sprint("b/", i))})
	}
	if err := s.Write(context.Background(), ms...); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	waitUntil(t, "the consumer's three dead letters", func() bool {
		n, _ := ib.Admin().CountDead(context.Background(), group)
		return n == 3
	})
	dead, err := ib.Admin().Dead(context.Background(), group, 10)
	if err != nil || len(dead) != 3 {
		t.Fatalf("dead: %+v, %v", dead, err)
	}

	ctx, dialogs := browser(t)
	page := s.URL + "/inbox/" + group + "/dead"
	var ov outboxconsole.Overview
	if code, body, _ := get(t, client(t), s.URL+"/api/v1/overview", viewerSecret); code != 200 || json.Unmarshal([]byte(body), &ov) != nil ||
		len(ov.Inboxes) != 1 || ov.Inboxes[0].Dead != 3 || len(ov.Problems) != 1 {
		t.Fatalf("overview with the group's dead letters: %d %s", code, body)
	}
	steps(t, ctx, "sign in", chromedp.Navigate(page), chromedp.SendKeys(chromedp.ID("token"), operatorSecret),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("group")))
	if n := rows(t, ctx); n != 3 {
		t.Fatalf("the group's page lists %d, want 3", n)
	}
	screenshots(t, "postgres")(ctx, "inbox")
	fixed.Store(true)
	steps(t, ctx, "retry a selection",
		tick(dead[2].ID, dead[0].ID),
		chromedp.Click(chromedp.ID("retry-selected")),
		chromedp.Click(chromedp.ID("confirm")))
	if n := text(t, ctx, "count"); n != "2" {
		t.Fatalf("the retry says it asked for %s, want 2", n)
	}
	waitUntil(t, "the two retried events handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	})
	mu.Lock()
	if !slices.Equal(handled, []string{"b/0", "b/2"}) {
		t.Errorf("handled %v after the retry, want b/0 then b/2", handled)
	}
	mu.Unlock()
	steps(t, ctx, "purge the rest", chromedp.Navigate(page), chromedp.Click(chromedp.ID("purge-matching")), chromedp.Click(chromedp.ID("confirm")))
	if n := text(t, ctx, "count"); n != "1" {
		t.Fatalf("the purge says it touched %s, want 1", n)
	}
	if n, _ := ib.Admin().CountDead(context.Background(), group); n != 0 || dialogs.Load() != 0 {
		t.Fatalf("%d dead left, %d dialogs", n, dialogs.Load())
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 60s", what)
		}
	}
}
