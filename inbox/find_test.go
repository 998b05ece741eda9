package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
)

// FindDead filters a group's dead events and pages through them as the outbox's does;
// Retry and PurgeDead take several ids, RetryMatching and PurgeDeadMatching a filter.
func TestFindDead(t *testing.T) {
	eachHarness(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		g := "find-" + h.name
		var ids []string
		for i := range 5 {
			m := &inbox.Message{ID: fmt.Sprintf("ev-%d", i), Topic: []string{"orders", "stock"}[i%2], Partition: 0, Offset: int64(i),
				Key: []byte([]string{"a", "a", "b", "c", "d"}[i]), Value: []byte("v"), Timestamp: time.Now(), Attempt: 1}
			cause := []error{errors.New("no stock for sku 42"), errors.New("Bad Payload")}[i/3]
			if err := inbox.DeadLetter(ctx, h.store, g, m, cause); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		other := &inbox.Message{ID: "ev-other", Topic: "orders", Key: []byte("a"), Timestamp: time.Now()}
		if err := inbox.DeadLetter(ctx, h.store, g+"-other", other, errors.New("x")); err != nil {
			t.Fatal(err)
		}
		got := func(q inbox.DeadQuery) ([]string, string) {
			t.Helper()
			p, err := h.store.FindDead(ctx, g, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range p.Events {
				out = append(out, e.ID)
			}
			return out, p.Next
		}
		for _, c := range []struct {
			name string
			q    inbox.DeadQuery
			want []string
		}{
			{"all", inbox.DeadQuery{}, ids},
			{"topic", inbox.DeadQuery{Topic: "stock"}, []string{ids[1], ids[3]}},
			{"key", inbox.DeadQuery{Key: "a"}, ids[:2]},
			{"error, any case", inbox.DeadQuery{Error: "bad payload"}, ids[3:]},
			{"since an hour from now", inbox.DeadQuery{Since: time.Now().Add(time.Hour)}, nil},
			{"until an hour from now", inbox.DeadQuery{Until: time.Now().Add(time.Hour)}, ids},
		} {
			if g, _ := got(c.q); !slices.Equal(g, c.want) {
				t.Errorf("%s: %v, want %v", c.name, g, c.want)
			}
		}
		first, next := got(inbox.DeadQuery{Limit: 3})
		second, last := got(inbox.DeadQuery{Limit: 3, After: next})
		if !slices.Equal(first, ids[:3]) || !slices.Equal(second, ids[3:]) || last != "" {
			t.Errorf("pages of 3: %v (next %q), %v (next %q)", first, next, second, last)
		}
		if _, err := h.store.FindDead(ctx, g, inbox.DeadQuery{After: "x"}); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("a bad After: %v", err)
		}
		if n, err := h.store.Retry(ctx, g, ids[1], "no-such-event", ids[0]); err != nil || n != 2 {
			t.Errorf("Retry of two and an unknown id: %d, %v", n, err)
		}
		if n, err := h.store.PurgeDeadMatching(ctx, g, inbox.DeadQuery{Error: "payload"}); err != nil || n != 2 {
			t.Errorf("PurgeDeadMatching: %d, %v; want 2", n, err)
		}
		if n, err := h.store.RetryMatching(ctx, g, inbox.DeadQuery{Topic: "orders"}); err != nil || n != 1 {
			t.Errorf("RetryMatching(orders): %d, %v; want 1 (ev-2; ev-0 was asked for already)", n, err)
		}
		dead, err := h.store.Dead(ctx, g, 10)
		if err != nil || len(dead) != 3 || !dead[0].RetryAsked || !dead[1].RetryAsked || !dead[2].RetryAsked {
			t.Errorf("dead after: %+v, %v; want ev-0, ev-1, ev-2, each asked to retry", dead, err)
		}
		if n, err := h.store.PurgeDead(ctx, g, ids[0], ids[1], ids[2]); err != nil || n != 3 {
			t.Errorf("PurgeDead of three: %d, %v", n, err)
		}
		if n, _ := h.store.CountDead(ctx, g+"-other"); n != 1 {
			t.Errorf("the other group's dead event was touched: %d left", n)
		}
	})
}
