// Package ledger checks what reached a topic against what writers committed: lost,
// duplicated and reordered events. Tests and `outbox bench` share it.
//
// It is part of this module's test kit (testkit/), which its own tests, benchmark and
// fault-injection suite share: not an API, and it changes with them.
package ledger

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Ledger is what the writers committed: for each key, how many events, numbered from 0 in
// commit order. Each event's payload starts "key/n", optionally followed by "/" and
// anything (padding).
type Ledger map[string]int

// Payload is the payload of key's n-th event.
func Payload(key string, n int) []byte { return []byte(key + "/" + strconv.Itoa(n)) }

// Add records that key got one more event and returns its payload.
func (l Ledger) Add(key string) []byte {
	p := Payload(key, l[key])
	l[key]++
	return p
}

// Total is the number of events in the ledger.
func (l Ledger) Total() int {
	n := 0
	for _, v := range l {
		n += v
	}
	return n
}

// Report is what a topic held compared with a ledger.
type Report struct {
	Received, Lost, Duplicates, OrderViolations, Foreign int
}

func (r Report) String() string {
	return fmt.Sprintf("received %d, lost %d, duplicates %d, order violations %d, unknown %d",
		r.Received, r.Lost, r.Duplicates, r.OrderViolations, r.Foreign)
}

// OK reports whether nothing was lost, reordered or unknown.
func (r Report) OK() bool { return r.Lost == 0 && r.OrderViolations == 0 && r.Foreign == 0 }

// Verify compares records with the ledger: lost = committed but never received; an
// order violation = a key's event whose first arrival comes before that of an event
// committed earlier.
func Verify(l Ledger, recs []*kgo.Record) Report {
	r := Report{Received: len(recs)}
	seen := map[string]map[int]bool{}
	next := map[string]int{} // per key, the highest n first-seen so far + 1
	for _, rec := range recs {
		key, rest, ok := strings.Cut(string(rec.Value), "/")
		nstr, _, _ := strings.Cut(rest, "/")
		n, err := strconv.Atoi(nstr)
		if !ok || err != nil || string(rec.Key) != key || n >= l[key] {
			r.Foreign++
			continue
		}
		if seen[key] == nil {
			seen[key] = map[int]bool{}
		}
		if seen[key][n] {
			r.Duplicates++
			continue
		}
		seen[key][n] = true
		if n < next[key] {
			r.OrderViolations++
		}
		next[key] = max(next[key], n+1)
	}
	for key, count := range l {
		r.Lost += count - len(seen[key])
	}
	return r
}
