//go:build chaos

package chaos

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firstunicorn/outbox/testkit/faultproxy"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// database is a cluster's database: where its outbox lives, and how faults reach it.
type database interface {
	// url is where a process of role connects (relays' connections are the ones
	// killRelayConns ends), through via when it is not nil.
	url(role string, via *faultproxy.Proxy) string
	// schema is the outbox's schema (PostgreSQL) or database (MariaDB).
	schema() string
	// addr is the server's host:port, for a proxy in front of it.
	addr() string
	// killRelayConns ends every connection of the relays and says how many.
	killRelayConns() int64
	// restart stops the server, cleanly or (hard) by a crash, and starts it again.
	restart(t *testing.T, hard bool)
	// flags are what outbox commands need beyond the URL and schema (WAL mode's).
	flags() []string
}

// chaosDatabases are the databases a scenario runs on unless it says otherwise.
var chaosDatabases = []string{"postgres", "mariadb", "wal"}

func newDatabase(t *testing.T, name string) database {
	switch name {
	case "postgres":
		return newPGDB(t, nil)
	case "wal":
		return newWALDB(t, newPGDB(t, nil))
	case "ha":
		return newPGDB(t, testenv.PGHA(t))
	case "wal-ha":
		return newWALDB(t, newPGDB(t, testenv.PGHA(t)))
	case "sqlite":
		return sqliteDB{path: filepath.Join(t.TempDir(), "outbox.db")}
	case "mariadb":
		admin := testenv.MariaDB(t)
		m := &mariaDB{admin: admin, name: testenv.MariaDBDatabase(t), relayUser: testenv.Name("relay")}
		for _, q := range []string{"CREATE USER " + m.relayUser, "GRANT ALL PRIVILEGES ON *.* TO " + m.relayUser} {
			if _, err := admin.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		t.Cleanup(func() { _, _ = admin.Exec("DROP USER " + m.relayUser) })
		return m
	}
	t.Fatalf("no chaos database %q", name)
	return nil
}

// pgDB is a cluster's schema on the services' PostgreSQL 15, or on the PostgreSQL 17
// primary and standby (ha), whose URL names both and reaches whichever is primary.
type pgDB struct {
	pool *pgxpool.Pool
	name string
	ha   *testenv.HA // nil on PostgreSQL 15
}

func newPGDB(t *testing.T, ha *testenv.HA) *pgDB {
	if ha == nil {
		pool := testenv.Pool(t)
		return &pgDB{pool: pool, name: testenv.Schema(t, pool)}
	}
	pool, err := pgxpool.New(context.Background(), ha.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &pgDB{pool: pool, name: testenv.Schema(t, pool), ha: ha}
}

func (d *pgDB) schema() string { return d.name }

func (d *pgDB) flags() []string { return nil }

func (d *pgDB) base() string {
	if d.ha != nil {
		return d.ha.URL
	}
	return testenv.DatabaseURL()
}

func (d *pgDB) addr() string {
	u, _ := url.Parse(d.base())
	return u.Host
}

func (d *pgDB) url(role string, via *faultproxy.Proxy) string {
	u, _ := url.Parse(d.base())
	q := u.Query()
	q.Set("application_name", role)
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	if via != nil {
		u.Host = via.Addr()
	}
	return u.String()
}

// killRelayConns ends the relays' connections: their pools', their open batches' and,
// in WAL mode, their replication connections (the walsender's backend).
func (d *pgDB) killRelayConns() int64 {
	var n int64
	_ = d.pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'chaos-relay' OR starts_with(application_name, 'outbox-batch:')
			OR starts_with(application_name, 'outbox-wal ')`).Scan(&n)
	return n
}

func (d *pgDB) restart(t *testing.T, hard bool) {
	mode := "fast"
	if hard {
		mode = "immediate"
	}
	dir := env("OUTBOX_SERVICES_DIR", state)
	args := []string{"/usr/lib/postgresql/15/bin/pg_ctl", "-D", dir + "/pg", "-m", mode, "-w", "restart", "-l", dir + "/logs/postgres.log"}
	if os.Getuid() == 0 { // as services.sh does: PostgreSQL refuses to run as root
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl restart -m %s: %v\n%s", mode, err, out)
	}
}

// mariaDB is a cluster's database on the services' MariaDB; its relays connect as a
// user of their own, so that their connections can be told apart and killed.
type mariaDB struct {
	admin     *sql.DB
	name      string
	relayUser string
}

func (d *mariaDB) schema() string { return d.name }

func (d *mariaDB) flags() []string { return nil }

func (d *mariaDB) addr() string {
	u, _ := url.Parse(testenv.MariaDBURL())
	return u.Host
}

func (d *mariaDB) url(role string, via *faultproxy.Proxy) string {
	u, _ := url.Parse(testenv.MariaDBURL())
	if role == "chaos-relay" {
		u.User = url.User(d.relayUser)
	}
	u.RawQuery = "timeout=5s"
	if via != nil {
		u.Host = via.Addr()
	}
	return u.String()
}

func (d *mariaDB) killRelayConns() int64 { return testenv.KillMariaDBConns(d.admin, d.relayUser) }

// restart stops mariadbd with SIGTERM (a clean shutdown) or SIGKILL (a crash: InnoDB
// recovers from its redo log at start) and starts it again through services.sh.
func (d *mariaDB) restart(t *testing.T, hard bool) {
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	stopService(t, "MariaDB", "mariadb/mariadb.pid", sig)
	services(t, "up")
}

// sqliteDB is a cluster's SQLite file, shared by its relay and writer processes. It has
// no server to restart and no connections to kill.
type sqliteDB struct{ path string }

func (d sqliteDB) schema() string                       { return "" }
func (d sqliteDB) flags() []string                      { return nil }
func (d sqliteDB) addr() string                         { return d.path }
func (d sqliteDB) url(string, *faultproxy.Proxy) string { return "sqlite:" + d.path }
func (d sqliteDB) killRelayConns() int64                { return 0 }
func (d sqliteDB) restart(t *testing.T, _ bool)         { t.Fatal("SQLite has no server to restart") }
