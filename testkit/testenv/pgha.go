package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// HA is the services' PostgreSQL 17 primary and hot standby (services.sh up pg-ha),
// for the failover tests.
type HA struct {
	// URL reaches whichever node is primary: both hosts, target_session_attrs=read-write.
	// StandbyURL reaches whichever is standby (target_session_attrs=standby).
	URL, StandbyURL string
	nodes           []string // host:port of node 1 and node 2
}

// PGHA returns the HA pair, started if it is not running; it fails the test under CI
// when it cannot be, and skips it otherwise.
func PGHA(t testing.TB) *HA {
	t.Helper()
	if _, err := Services("up", "pg-ha"); err != nil {
		Need(t, "PostgreSQL 17 primary and standby", err)
	}
	h := &HA{URL: env("OUTBOX_PG_HA_URL", "postgres://postgres@127.0.0.1:25432,127.0.0.1:25433/outbox?sslmode=disable&target_session_attrs=read-write"),
		nodes: strings.Split(env("OUTBOX_PG_HA_NODES", "127.0.0.1:25432,127.0.0.1:25433"), ",")}
	h.StandbyURL = h.url("standby")
	return h
}

func (h *HA) url(attrs string) string {
	return fmt.Sprintf("postgres://postgres@%s/outbox?sslmode=disable&target_session_attrs=%s", strings.Join(h.nodes, ","), attrs)
}

// Services runs scripts/services.sh with args and returns its output.
func Services(args ...string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "services.sh"), args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("services.sh %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// moduleRoot is the directory of this module's go.mod, above the test's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "services.sh")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("scripts/services.sh not found above the working directory")
		}
		dir = up
	}
}

// Standby is a pool on the node that is standby now.
func (h *HA) Standby(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return h.node(t, "standby")
}

// Primary is a pool on the node that is primary now (URL reaches it too, but a pool on
// it alone does not follow a failover).
func (h *HA) Primary(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return h.node(t, "read-write")
}

func (h *HA) node(t testing.TB, attrs string) *pgxpool.Pool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, h.url(attrs))
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("PostgreSQL HA node (%s): %v", attrs, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Switchover makes the standby primary and the primary its standby, cleanly.
func (h *HA) Switchover(t testing.TB) { h.run(t, "switchover", "pg-ha") }

// Failover SIGKILLs the primary and promotes the standby; Rejoin then rebuilds the old
// primary as the new standby.
func (h *HA) Failover(t testing.TB) { h.run(t, "failover", "pg-ha") }

// Rejoin rebuilds the node that is down as the standby of the primary.
func (h *HA) Rejoin(t testing.TB) { h.run(t, "rejoin", "pg-ha") }

// SlotSync turns the standby's slot sync worker on or off: off, a slot created on the
// primary has no copy on the standby, as right after its creation.
func (h *HA) SlotSync(t testing.TB, on bool) {
	h.run(t, "slotsync", "pg-ha", map[bool]string{true: "on", false: "off"}[on])
}

// Upstream makes the standby stream from addr, a proxy in front of the primary (see
// PrimaryAddr), until the next failover, switchover or services.sh up.
func (h *HA) Upstream(t testing.TB, addr string) { h.run(t, "upstream", "pg-ha", addr) }

// PrimaryAddr is the host:port of the node that is primary now.
func (h *HA) PrimaryAddr(t testing.TB) string {
	t.Helper()
	var port int
	if err := h.Primary(t).QueryRow(context.Background(), `SELECT inet_server_port()`).Scan(&port); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// Replication sets the primary's replication to "sync" or "async".
func (h *HA) Replication(t testing.TB, mode string) { h.run(t, "replication", "pg-ha", mode) }

func (h *HA) run(t testing.TB, args ...string) {
	t.Helper()
	if _, err := Services(args...); err != nil {
		t.Fatal(err)
	}
}

// WaitSynced waits until the standby has a synced copy of slot that a promotion
// keeps: synced and no longer temporary. The sync worker keeps a new copy temporary
// until the primary's slot has moved past where the copy started (its catalog_xmin
// included), which needs a running-xacts record in the WAL (the primary writes one
// every 15 s; this asks for one each second) that the slot's reader then confirms;
// a transaction held open on the primary holds it back. (pg_sync_replication_slots()
// does not help under load: each call starts a new copy, newer than the slot. Nor
// does restarting the worker for each wait: PostgreSQL starts it again at most every
// 10 s, and a run of the chaos suite's failover scenarios took three times as long.)
func (h *HA) WaitSynced(t testing.TB, slot string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	standby, primary := h.Standby(t), h.Primary(t)
	deadline := time.Now().Add(timeout)
	for {
		var synced bool
		err := standby.QueryRow(ctx, `SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&synced)
		if err == nil && synced {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby has no synced copy of slot %s after %s (%v)", slot, timeout, err)
		}
		_, _ = primary.Exec(ctx, `SELECT pg_log_standby_snapshot()`)
		time.Sleep(time.Second)
	}
}
