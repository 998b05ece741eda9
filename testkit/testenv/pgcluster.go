package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pgBin is where Debian's PostgreSQL 15 keeps its programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// PrivatePostgres starts a PostgreSQL cluster of the test's own, with wal_level =
// logical and the given postgresql.conf lines, for tests that change what the shared
// cluster's other tests rely on (max_slot_wal_keep_size, say). It returns its URL; the
// cluster is removed when the test ends. It takes about two seconds.
func PrivatePostgres(t testing.TB, conf ...string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		Need(t, "PostgreSQL", err)
	}
	dir, err := os.MkdirTemp(env("OUTBOX_SERVICES_DIR", "/var/tmp/go-outbox"), "pg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Getuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		if err := os.Chown(dir, uid, -1); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	data := filepath.Join(dir, "data")
	pg := func(args ...string) error {
		name := filepath.Join(pgBin, args[0])
		cmd := exec.Command(name, args[1:]...)
		if os.Getuid() == 0 {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args[1:]...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", args[0], err, out)
		}
		return nil
	}
	if err := pg("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"); err != nil {
		t.Fatal(err)
	}
	lines := append([]string{"listen_addresses = '127.0.0.1'", "port = " + port, "unix_socket_directories = '" + dir + "'",
		"wal_level = logical", "fsync = off", "shared_buffers = 32MB"}, conf...)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
		_ = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := pg("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"
}
