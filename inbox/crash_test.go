package inbox_test

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/firstunicorn/outbox/inbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// TestCrashBeforeOffsetCommit SIGKILLs a consumer process once its transactions have
// committed and before any offset was (its CommitInterval is an hour): the group's
// next consumer gets every event again, and drops each as a duplicate.
func TestCrashBeforeOffsetCommit(t *testing.T) {
	t.Parallel()
	h := newPGX(t)
	topic := testenv.Topic(t, 4, nil)
	var recs []*kgo.Record
	for i := 1; i <= 300; i++ {
		recs = append(recs, event(topic, fmt.Sprintf("k%d", i%7), i))
	}
	produce(t, recs...)
	group := testenv.Name("g")
	schema := h.schema
	cmd := osexec.Command(os.Args[0], "-test.run=^TestHelperConsumer$")
	cmd.Env = append(os.Environ(), "INBOX_HELPER=1", "INBOX_HELPER_SCHEMA="+schema, "INBOX_HELPER_TOPIC="+topic, "INBOX_HELPER_GROUP="+group)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitFor(t, 60*time.Second, "the helper to apply 300 events", func() bool {
		return h.query(t, `SELECT count(*) FROM applied`) == 300
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	var o outcomes
	cfg := config(topic, &o)
	cfg.Group = group
	start(t, h.consumer(t, apply, cfg))
	waitFor(t, 60*time.Second, "300 duplicates", func() bool { return o.get(inbox.Duplicate) == 300 })
	if n := o.get(inbox.Handled); n != 0 {
		t.Errorf("%d events handled again after the crash", n)
	}
	checkOnce(t, h.applied(t), recs)
}

// TestHelperConsumer is the consumer TestCrashBeforeOffsetCommit kills; it runs only
// as that test's child process.
func TestHelperConsumer(t *testing.T) {
	if os.Getenv("INBOX_HELPER") != "1" {
		t.Skip("a helper process: run by TestCrashBeforeOffsetCommit")
	}
	schema := os.Getenv("INBOX_HELPER_SCHEMA")
	pool, err := pgxpool.New(context.Background(), testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	store := must(inbox.New(outboxpgx.New(pool), &inbox.Config{Schema: schema}))
	c := must(inbox.NewConsumer(store, func(ctx context.Context, tx pgx.Tx, m *inbox.Message) error {
		var seq int64
		fmt.Sscan(string(m.Value), &seq)
		_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.applied (event_id, k, seq) VALUES ($1, $2, $3)`, m.ID, string(m.Key), seq)
		return err
		// The group waits this long for the killed member before it rebalances.
	}, testenv.Client(t, kgo.SessionTimeout(6*time.Second)),
		&inbox.ConsumerConfig{Group: os.Getenv("INBOX_HELPER_GROUP"), Topics: strings.Split(os.Getenv("INBOX_HELPER_TOPIC"), ","),
			CommitInterval: time.Hour}))
	_ = c.Run(context.Background()) // until killed
}
