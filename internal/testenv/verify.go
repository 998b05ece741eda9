package testenv

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Ledger is what the writers committed: for each key, how many events, numbered from 0 in
// commit order. Tests encode each event's payload as "key/n".
type Ledger map[string]int

// Payload is the payload of key's n-th event.
func Payload(key string, n int) []byte { return []byte(key + "/" + strconv.Itoa(n)) }

// Report is what a topic held compared with a ledger.
type Report struct {
	Received, Lost, Duplicates, OrderViolations, Foreign int
}

func (r Report) String() string {
	return fmt.Sprintf("received %d, lost %d, duplicates %d, order violations %d, unknown %d",
		r.Received, r.Lost, r.Duplicates, r.OrderViolations, r.Foreign)
}

// Verify compares records with the ledger: lost = committed but never received; an
// order violation = a key's event whose first arrival comes before that of an event
// committed earlier.
func Verify(l Ledger, recs []*kgo.Record) Report {
	r := Report{Received: len(recs)}
	seen := map[string]map[int]bool{}
	next := map[string]int{} // per key, the highest n first-seen so far + 1
	for _, rec := range recs {
		key, nstr, ok := strings.Cut(string(rec.Value), "/")
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
