package postgres

import "testing"

func TestLSN(t *testing.T) {
	for _, tc := range []struct {
		text string
		lsn  uint64
	}{{"0/0", 0}, {"0/16B3748", 0x16B3748}, {"1/0", 1 << 32}, {"FFFFFFFF/FFFFFFFF", ^uint64(0)}} {
		got, err := ParseLSN(tc.text)
		if err != nil || got != tc.lsn || FormatLSN(tc.lsn) != tc.text {
			t.Errorf("ParseLSN(%q) = %X, %v; FormatLSN(%X) = %q", tc.text, got, err, tc.lsn, FormatLSN(tc.lsn))
		}
	}
	for _, bad := range []string{"", "16B3748", "x/1", "1/"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) took it", bad)
		}
	}
}

// FuzzLSN: whatever ParseLSN takes, FormatLSN writes back to a text it parses the same.
func FuzzLSN(f *testing.F) {
	f.Add("0/16B3748")
	f.Add("1/0")
	f.Fuzz(func(t *testing.T, s string) {
		lsn, err := ParseLSN(s)
		if err != nil {
			return
		}
		if again, err := ParseLSN(FormatLSN(lsn)); err != nil || again != lsn {
			t.Fatalf("%q: %X, then %q: %X %v", s, lsn, FormatLSN(lsn), again, err)
		}
	})
}
