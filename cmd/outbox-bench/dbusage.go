package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/firstunicorn/outbox/outboxstore"
)

// relayRole is the database user the steady scenario's relay logs in as, so the
// server's own accounting tells the relay's statements and CPU from the writers'.
const relayRole = "outbox_bench_relay"

// usage is what the relay's database connections had cost at one moment.
type usage struct {
	relayCPU   time.Duration         // the relay process
	backends   map[int]time.Duration // PostgreSQL: each relay backend's CPU
	dbCPU      time.Duration         // MariaDB: the relay user's CPU_TIME
	statements int64                 // -1: the server does not count them
}

// dbCPUSince is the relay connections' CPU between u0 and u, and how many backends
// were new; a backend that appeared in between counts whole.
func (u usage) dbCPUSince(u0 usage) (time.Duration, int) {
	d, fresh := u.dbCPU-u0.dbCPU, 0
	for pid, t := range u.backends {
		t0, ok := u0.backends[pid]
		if !ok {
			fresh++
		}
		d += t - t0
	}
	return d, fresh
}

// prepareRelayRole creates relayRole with the bench user's rights and turns on the
// server's per-user accounting; it returns a note on what cannot be measured here.
func (e *env) prepareRelayRole(ctx context.Context) (string, error) {
	switch e.db.Admin.Database() {
	case outboxstore.PostgreSQL:
		err := e.db.Exec(ctx, `DO $$ BEGIN CREATE ROLE `+relayRole+` LOGIN SUPERUSER REPLICATION;
			EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
		if err != nil {
			return "", fmt.Errorf("create role %s: %w", relayRole, err)
		}
		if err := e.db.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
			return "", err
		}
		var n int64
		if err := e.db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_statements`, nil, &n); err != nil {
			return "statements not counted: pg_stat_statements is not in shared_preload_libraries (scripts/services.sh up sets it)", nil
		}
		return "", nil
	case outboxstore.MySQL:
		for _, s := range []string{
			`CREATE USER IF NOT EXISTS '` + relayRole + `'@'%'`,
			`GRANT ALL PRIVILEGES ON *.* TO '` + relayRole + `'@'%'`,
			`SET GLOBAL userstat = 1`,
			`FLUSH USER_STATISTICS`,
		} {
			if err := e.db.Exec(ctx, s); err != nil {
				return "", fmt.Errorf("%s: %w", s, err)
			}
		}
		return "", nil
	default:
		return "SQLite runs inside the relay's process: its CPU is the relay's, and it counts no statements", nil
	}
}

// endRelayRole turns the per-user accounting off again (MariaDB).
func (e *env) endRelayRole(ctx context.Context) {
	if e.db.Admin.Database() == outboxstore.MySQL {
		_ = e.db.Exec(ctx, `SET GLOBAL userstat = 0`)
	}
}

// relayURL is the database URL with relayRole as its user (SQLite: unchanged).
func relayURL(raw string) (string, error) {
	if strings.HasPrefix(raw, "sqlite:") {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	u.User = url.User(relayRole)
	return u.String(), nil
}

// usage samples the relay process (pid) and its database connections.
func (e *env) usage(ctx context.Context, pid int) (usage, error) {
	u := usage{statements: -1}
	var err error
	if u.relayCPU, err = procCPU(pid); err != nil {
		return u, err
	}
	switch e.db.Admin.Database() {
	case outboxstore.PostgreSQL:
		var pids string
		if err := e.db.QueryRow(ctx, `SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity WHERE usename = $1`,
			[]any{relayRole}, &pids); err != nil {
			return u, err
		}
		u.backends = map[int]time.Duration{}
		for _, p := range strings.Split(pids, ",") {
			n, err := strconv.Atoi(p)
			if err != nil {
				continue
			}
			if t, err := procCPU(n); err == nil { // a backend may end in between
				u.backends[n] = t
			}
		}
		var calls int64
		if e.db.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
			WHERE r.rolname = $1`, []any{relayRole}, &calls) == nil {
			u.statements = calls
		}
	case outboxstore.MySQL:
		var cpu float64
		var n int64
		err := e.db.QueryRow(ctx, `SELECT CPU_TIME, SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS
			FROM information_schema.USER_STATISTICS WHERE USER = ?`, []any{relayRole}, &cpu, &n)
		switch {
		case err == nil:
			u.dbCPU, u.statements = time.Duration(cpu*float64(time.Second)), n
		case !errors.Is(err, sql.ErrNoRows):
			return u, err
		default:
			u.statements = 0 // not connected yet
		}
	}
	return u, nil
}

// procCPU is a process's user + system CPU so far, from /proc/PID/stat (in ticks of
// 1/100 s, Linux's fixed USER_HZ).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
