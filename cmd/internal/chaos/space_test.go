//go:build chaos

package chaos

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxpgx"
	"github.com/firstunicorn/outbox/outboxstore"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// smallDisk mounts a tmpfs of size for PostgreSQL and makes it a tablespace.
func smallDisk(t *testing.T, c *cluster, size string) (tablespace, dir string) {
	if os.Getuid() != 0 {
		testenv.Need(t, "root (to mount a small filesystem)", errors.New("not root"))
	}
	dir, err := os.MkdirTemp(env("OUTBOX_SERVICES_DIR", state), "space-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run(); _ = os.Remove(dir) })
	if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	tablespace = testenv.Name("small")
	if _, err := c.pg().Exec(context.Background(), fmt.Sprintf("CREATE TABLESPACE %s LOCATION '%s'", tablespace, dir)); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the schema (registered earlier) is dropped after
	// this, so empty the tablespace first.
	t.Cleanup(func() {
		_, _ = c.pg().Exec(context.Background(), "DROP SCHEMA "+c.schema+" CASCADE")
		_, _ = c.pg().Exec(context.Background(), "DROP TABLESPACE "+tablespace)
	})
	return tablespace, dir
}

// PostgreSQL out of space at write time: the caller's transaction (domain row and
// event) fails as a whole with the disk-full error; every event committed before is
// published; once space is freed, writes succeed again.
func TestPostgresOutOfSpace(t *testing.T) {
	c := newCluster(t, nil, "postgres", options{Relays: 0, Workers: 1, Batch: 100, LeaseTTL: 3 * time.Second, Partitions: 2})
	ctx := context.Background()
	ts, dir := smallDisk(t, c, "16m")
	for _, stmt := range []string{
		"CREATE TABLE " + c.schema + ".orders (id bigint PRIMARY KEY)",
		"ALTER TABLE " + c.schema + ".outbox SET TABLESPACE " + ts,
	} {
		if _, err := c.pg().Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	indexes, err := c.pg().Query(ctx, "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'outbox'", c.schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(indexes, pgx.RowTo[string])
	if err != nil || len(names) == 0 {
		t.Fatalf("the outbox's indexes: %v, %v", names, err)
	}
	for _, ix := range names {
		if _, err := c.pg().Exec(ctx, "ALTER INDEX "+c.schema+"."+ix+" SET TABLESPACE "+ts); err != nil {
			t.Fatal(err)
		}
	}
	store, err := outboxstore.New(outboxpgx.New(c.pg()), &outboxstore.Config{Schema: c.schema})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 200_000) // random: TOAST compression must not shrink it
	_, _ = rand.Read(payload)
	order := func(id int) error {
		return pgx.BeginFunc(ctx, c.pg(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO "+c.schema+".orders VALUES ($1)", id); err != nil {
				return err
			}
			return store.Write(ctx, tx, outbox.Message{Topic: c.topic, Key: []byte(fmt.Sprint(id)), Payload: payload})
		})
	}
	committed := 0
	for ; committed < 1000; committed++ {
		if err = order(committed); err != nil {
			break
		}
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "53100" {
		t.Fatalf("after %d orders of 200 kB on a 16 MB disk: %v; want disk full (SQLSTATE 53100)", committed, err)
	}
	t.Logf("order %d refused: %v", committed, err)
	var orders, events int
	_ = c.pg().QueryRow(ctx, "SELECT (SELECT count(*) FROM "+c.schema+".orders), (SELECT count(*) FROM "+c.schema+".outbox)").Scan(&orders, &events)
	if orders != committed || events != committed {
		t.Fatalf("%d orders and %d events stored, want the %d committed: the failed transaction must leave nothing", orders, events, committed)
	}
	// More space: the next write succeeds, and a relay publishes everything committed.
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v\n%s", err, out)
	}
	if err := order(committed); err != nil {
		t.Fatalf("with space again: %v", err)
	}
	committed++
	r := c.startRelay(0)
	defer r.stop(15 * time.Second)
	c.waitDrained(time.Minute)
	recs := testenv.ConsumeAll(t, c.topic, committed, 2*time.Second, time.Minute)
	if len(recs) != committed {
		t.Fatalf("%d events in Kafka, want the %d committed", len(recs), committed)
	}
}
