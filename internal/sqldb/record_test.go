package sqldb

import (
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The headers column of a row written by hand may hold any JSON: decoding never
// panics, accepts exactly objects of strings, and what it accepts is what Kafka gets.
func FuzzDecodeHeaders(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`,
		`[]`, `null`, `{"a":1}`, `"x"`, `{"a":"b","a":"c"}`, `{"a":null}`, `{"\u0000":"\ud800"}`, `{`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHeaders(s)
		if err != nil {
			if h != nil || !strings.HasPrefix(err.Error(), "headers ") {
				t.Fatalf("DecodeHeaders(%q) = %v, %v: an error must come alone and name the headers", s, h, err)
			}
			return
		}
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			t.Fatalf("decodeHeaders accepted %q, which is not JSON", s)
		}
		if _, isObject := v.(map[string]any); !isObject && s != "{}" {
			t.Fatalf("decodeHeaders accepted %q, which is not an object", s)
		}
		for k, val := range h {
			if !utf8.ValidString(k) || !utf8.ValidString(val) {
				t.Fatalf("DecodeHeaders(%q) gave invalid UTF-8 %q: %q", s, k, val)
			}
		}
		b, _ := json.Marshal(h) // what a round trip through the table would store
		if len(h) > 0 {
			again, err := DecodeHeaders(string(b))
			if err != nil || !maps.Equal(again, h) {
				t.Fatalf("round trip of %q: %v, %v; want %v", b, again, err, h)
			}
		}
	})
}

func TestDecodeHeaders(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{`{}`, nil, false},
		{`{"a":"b"}`, map[string]string{"a": "b"}, false},
		{`null`, nil, true},
		{`[]`, nil, true},
		{`{"a":1}`, nil, true},
		{`{"a":null}`, map[string]string{"a": ""}, false}, // encoding/json leaves a null as the zero value
	}
	for _, tt := range tests {
		got, err := DecodeHeaders(tt.in)
		if (err != nil) != tt.wantErr || !maps.Equal(got, tt.want) {
			t.Errorf("DecodeHeaders(%s) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTimeScan(t *testing.T) {
	want := time.Date(2026, 11, 29, 10, 11, 12, 345678000, time.UTC)
	for _, v := range []any{want.In(time.FixedZone("X", 3600)), want.UnixMicro(), []byte(strconv.FormatInt(want.UnixMicro(), 10))} {
		var got Time
		if err := got.Scan(v); err != nil || !time.Time(got).Equal(want) || time.Time(got).Location() != time.UTC {
			t.Errorf("Scan(%T %v) = %v, %v; want %v in UTC", v, v, time.Time(got), err, want)
		}
	}
	for _, v := range []any{"2026-11-29", []byte("soon"), nil} {
		var got Time
		if err := got.Scan(v); err == nil {
			t.Errorf("Scan(%T %v) accepted", v, v)
		}
	}
}
