//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/testkit/ledger"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// The verifier process finds what the suite exists to catch: a topic with an event
// lost, one out of order, one duplicated and one nobody committed fails every count.
func TestVerifierCatchesFaults(t *testing.T) {
	c := newCluster(t, nil, "postgres", options{Partitions: 1, LeaseTTL: time.Second})
	now := time.Now().UnixMilli()
	var recs []*kgo.Record
	for _, v := range []string{"a/0", "a/2", "a/1", "a/1", "b/0", "c/0"} { // b/1 lost
		key, _, _ := strings.Cut(v, "/")
		recs = append(recs, &kgo.Record{Topic: c.topic, Key: []byte(key), Value: []byte(v + "/" + strconv.FormatInt(now, 10))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.Client(t).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(c.dir, "ledger.json")
	b, _ := json.Marshal(writerLedger{Main: ledger.Ledger{"a": 3, "b": 2}, Transactions: 5})
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	v := c.verify([]string{f}, false)
	want := ledger.Report{Received: 6, Lost: 1, Duplicates: 1, OrderViolations: 1, Foreign: 1}
	if v.Report != want || v.Committed != 5 {
		t.Fatalf("verifier: %d committed, %v; want 5 committed, %v", v.Committed, v.Report, want)
	}
}
