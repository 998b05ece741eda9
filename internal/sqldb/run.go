package sqldb

import (
	"context"
	"errors"
)

// ErrNoRow is returned by QueryRow when the statement returned no row.
var ErrNoRow = errors.New("no row")

// Exec runs s with args and returns the rows it affected.
func Exec(ctx context.Context, q Querier, s *Stmt, args ...any) (int64, error) {
	sql, a := s.Bind(args...)
	return q.Exec(ctx, sql, a...)
}

// QueryRow runs s and scans its first row into dest.
func QueryRow(ctx context.Context, q Querier, s *Stmt, args []any, dest ...any) error {
	sql, a := s.Bind(args...)
	return ScanRow(ctx, q, sql, a, dest...)
}

// ScanRow runs sql and scans its first row into dest.
func ScanRow(ctx context.Context, q Querier, sql string, args []any, dest ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNoRow
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Err()
}

// QueryInts runs s and returns its rows' single integer column.
func QueryInts(ctx context.Context, q Querier, s *Stmt, args ...any) ([]int, error) {
	sql, a := s.Bind(args...)
	return ScanInts(ctx, q, sql, a...)
}

// ScanInts runs sql and returns its rows' single integer column.
func ScanInts(ctx context.Context, q Querier, sql string, args ...any) ([]int, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, int(v))
	}
	return out, rows.Err()
}
