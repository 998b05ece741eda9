package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/firstunicorn/outbox/internal/sqldb"
)

// Migrate brings the schema to the latest version. MySQL commits DDL statement by
// statement, so migrators are serialised by a named lock on one connection instead of
// a transaction, and every statement may run again.
func (d *Dialect) Migrate(ctx context.Context, db sqldb.DB) ([]int, error) {
	if err := d.Check(ctx, db); err != nil {
		return nil, err
	}
	return migrate(ctx, db, "migrations", d.Names())
}

// migrate applies dir's migrations for the tables n names.
func migrate(ctx context.Context, db sqldb.DB, dir string, n sqldb.Names) ([]int, error) {
	ms, err := sqldb.LoadMigrations(files, dir, n.Vars)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	lock := "outbox-migrate:" + n.Qualified
	var got int64
	if err := sqldb.ScanRow(ctx, conn, `SELECT GET_LOCK(?, 60)`, []any{lock}, &got); err != nil || got != 1 {
		return nil, fmt.Errorf("wait for another migrator (GET_LOCK): got %d, %v", got, err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, lock) }()
	v := n.Vars
	if n.Schema != "" {
		if _, err := conn.Exec(ctx, `CREATE DATABASE IF NOT EXISTS `+v["schema"]); err != nil {
			return nil, err
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+v["migrations"]+` (
		version    INT          NOT NULL PRIMARY KEY,
		name       VARCHAR(255) NOT NULL,
		applied_at DATETIME(6)  NOT NULL DEFAULT (UTC_TIMESTAMP(6))) ENGINE = InnoDB`); err != nil {
		return nil, err
	}
	done, err := sqldb.AppliedVersions(ctx, conn, v["migrations"])
	if err != nil {
		return nil, err
	}
	return sqldb.Apply(ctx, conn, v["migrations"], ms, done, statements)
}

// statements splits a migration file at the semicolons that end a line, leaving out
// comment lines: the driver sends one statement at a time.
func statements(file string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(file, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
