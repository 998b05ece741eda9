package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order, identifiers filled in.
func (n Names) loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	r := strings.NewReplacer(
		"{{table}}", n.table, "{{leases}}", n.leases, "{{relays}}", n.relays,
		"{{name_id_key}}", quote(n.Table+"_id_key"),
		"{{name_claim_idx}}", quote(n.Table+"_claim_idx"),
		"{{name_blocked_idx}}", quote(n.Table+"_blocked_idx"),
		"{{name_dead_idx}}", quote(n.Table+"_dead_idx"),
		"{{name_published_idx}}", quote(n.Table+"_published_idx"),
		"{{notify_fn}}", `"`+n.Schema+`".`+quote(n.Table+"_notify"),
		"{{notify_trigger}}", quote(n.Table+"_notify"),
		"{{channel}}", n.Channel(),
	)
	var ms []migration
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: r.Replace(string(b))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

func quote(ident string) string { return `"` + ident + `"` }

// Migrate brings the schema to the latest version and returns the versions it applied
// (none when already current). It is safe to run concurrently: an advisory lock
// serialises migrators, and each version is applied once, in one transaction.
func Migrate(ctx context.Context, db DB, n Names) ([]int, error) {
	ms, err := n.loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	var applied []int
	err = db.InTx(ctx, func(tx DB) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, n.table); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+quote(n.Schema)); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+n.migrations+` (
			version    int         PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}
		done, err := appliedVersions(ctx, tx, n)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+n.migrations+` (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			applied = append(applied, m.version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: migrate %s: %w", n.table, err)
	}
	return applied, nil
}

func appliedVersions(ctx context.Context, db DB, n Names) (map[int]bool, error) {
	rows, err := db.Query(ctx, `SELECT version FROM `+n.migrations)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}
