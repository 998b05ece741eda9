package envflag

import (
	"strings"
	"testing"
)

func FuzzBrokers(f *testing.F) {
	for _, s := range []string{"localhost:9092", "a:1,b:2", "", "x", ":9092", "[::1]:9092", "h:0", "h:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		brokers, err := Brokers(list)
		if err != nil {
			return
		}
		if len(brokers) == 0 {
			t.Fatalf("Brokers(%q) accepted an empty list", list)
		}
		for _, b := range brokers {
			if b == "" || strings.Contains(b, ",") {
				t.Fatalf("Brokers(%q) returned %q", list, b)
			}
		}
	})
}
