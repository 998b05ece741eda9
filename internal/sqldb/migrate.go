package sqldb

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one versioned schema change, from a file named VERSION_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the .sql files of dir in version order, placeholders filled in.
func LoadMigrations(fsys fs.FS, dir string, vars Vars) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version", e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		text, err := vars.Render(string(b))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: text})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// AppliedVersions reads the versions recorded in the migrations table.
func AppliedVersions(ctx context.Context, q Querier, table string) (map[int]bool, error) {
	vs, err := ScanInts(ctx, q, `SELECT version FROM `+table)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	done := map[int]bool{}
	for _, v := range vs {
		done[v] = true
	}
	return done, nil
}

// Apply runs the migrations not yet in done through q, recording each in table, and
// returns the versions it applied.
func Apply(ctx context.Context, q Querier, table string, ms []Migration, done map[int]bool, split func(string) []string) ([]int, error) {
	var applied []int
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		stmts := []string{m.SQL}
		if split != nil {
			stmts = split(m.SQL)
		}
		for _, s := range stmts {
			if _, err := q.Exec(ctx, s); err != nil {
				return applied, fmt.Errorf("apply %s: %w", m.Name, err)
			}
		}
		// Both values come from the embedded file's name, never from input.
		rec := fmt.Sprintf(`INSERT INTO %s (version, name) VALUES (%d, '%s')`, table, m.Version, m.Name)
		if _, err := q.Exec(ctx, rec); err != nil {
			return applied, fmt.Errorf("record %s: %w", m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// MigrateInTx applies ms in one transaction, for databases whose DDL is transactional:
// setup runs first (a lock that serialises migrators, the versions table), then each
// missing migration. Concurrent migrators wait for each other; each version is applied
// once.
func MigrateInTx(ctx context.Context, db DB, table string, ms []Migration, setup ...string) ([]int, error) {
	tx, err := db.Begin(ctx, TxOptions{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, s := range setup {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	done, err := AppliedVersions(ctx, tx, table)
	if err != nil {
		return nil, err
	}
	applied, err := Apply(ctx, tx, table, ms, done, nil)
	if err != nil {
		return nil, err
	}
	return applied, tx.Commit(ctx)
}
