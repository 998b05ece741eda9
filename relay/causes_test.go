package relay

import "testing"

func TestOutcomeCauses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failed map[string]int // error text: events it failed
		want   string
	}{
		{"none", nil, ""},
		{"one", map[string]int{"t partition 3 (leader: broker 2): NOT_ENOUGH_REPLICAS": 7},
			"7× t partition 3 (leader: broker 2): NOT_ENOUGH_REPLICAS"},
		{"commonest first, ties by text", map[string]int{"b": 2, "a": 2, "c": 5},
			"5× c; 2× a; 2× b"},
		{"at most four", map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6},
			"6× f; 5× e; 4× d; 3× c; 2 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o outcome
			seq := int64(0)
			for msg, n := range tc.failed {
				for range n {
					o.add(seq, failKey{msg: msg})
					seq++
				}
			}
			if got := o.causes(); got != tc.want {
				t.Fatalf("causes() = %q, want %q", got, tc.want)
			}
		})
	}
}
