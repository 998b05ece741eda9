package inbox_test

import (
	"bytes"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// TestRunLeavesNoGoroutines: once Run has returned, none of the consumer's goroutines
// (partition workers, retry and purge loops, franz-go's client) is left. Not parallel:
// the parallel tests wait while it runs, so the goroutines it counts are its own.
func TestRunLeavesNoGoroutines(t *testing.T) {
	h := newPGX(t)
	topic := testenv.Topic(t, 4, nil) // its admin client stays until the test ends: the baseline
	produce(t, event(topic, "a", 1), event(topic, "b", 2), event(topic, "c", 3))
	_, base := goroutines()
	var o outcomes
	stop := start(t, h.consumer(t, apply, config(topic, &o)))
	waitFor(t, 30*time.Second, "3 handled", func() bool { return o.get(inbox.Handled) == 3 })
	if stacks, kgo := goroutines(); kgo <= base || !strings.Contains(stacks, "inbox.(*Consumer[...]).work") {
		t.Fatalf("the running consumer's goroutines are not seen (franz-go %d, baseline %d; inbox workers %v): the check cannot work",
			kgo, base, strings.Contains(stacks, "inbox.(*Consumer[...]).work"))
	}
	stop()
	waitFor(t, 5*time.Second, "no consumer goroutine left", func() bool {
		stacks, kgo := goroutines()
		waitDetail = ":\n" + stacks
		return kgo <= base && !strings.Contains(stacks, "firstunicorn/outbox/inbox.")
	})
}

// goroutines returns the stacks of the goroutines in the inbox or franz-go, and how
// many are franz-go's.
func goroutines() (string, int) {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var out strings.Builder
	kgo := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "franz-go/pkg/kgo.") {
			kgo++
		} else if !strings.Contains(g, "firstunicorn/outbox/inbox.") || strings.Contains(g, "inbox_test.") {
			continue
		}
		out.WriteString(g + "\n\n")
	}
	return out.String(), kgo
}
