package sqldb

import (
	"context"
	"slices"
	"testing"
)

func TestPageLimitAndCursor(t *testing.T) {
	for _, c := range []struct {
		limit, want int
		ok          bool
	}{{0, 100, true}, {1, 1, true}, {1000, 1000, true}, {1001, 0, false}, {-1, 0, false}} {
		if got, err := PageLimit(c.limit); got != c.want || (err == nil) != c.ok {
			t.Errorf("PageLimit(%d) = %d, %v", c.limit, got, err)
		}
	}
	for _, c := range []struct {
		after string
		want  int64
		ok    bool
	}{{"", 0, true}, {"42", 42, true}, {"-1", 0, false}, {"page-2", 0, false}} {
		if got, err := Cursor(c.after); got != c.want || (err == nil) != c.ok {
			t.Errorf("Cursor(%q) = %d, %v", c.after, got, err)
		}
	}
}

// EachPage reads from after the last row of each page, stops at a short page, and
// adds up what act counts.
func TestEachPage(t *testing.T) {
	rows := []int64{3, 5, 8, 9, 12}
	var afters []int64
	read := func(_ context.Context, after int64, size int) ([]int64, error) {
		afters = append(afters, after)
		i, _ := slices.BinarySearch(rows, after+1)
		return rows[i:min(i+size, len(rows))], nil
	}
	var acted []int64
	n, err := EachPage(context.Background(), 2, read, func(_ context.Context, r []int64) (int64, error) {
		acted = append(acted, r...)
		return int64(len(r)), nil
	})
	if err != nil || n != 5 || !slices.Equal(acted, rows) || !slices.Equal(afters, []int64{0, 5, 9}) {
		t.Fatalf("EachPage: %d, %v; acted on %v, read after %v", n, err, acted, afters)
	}
}
