package relay

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox/relay/source"
)

func TestTableProgress(t *testing.T) {
	id := func(b byte) uuid.UUID { return uuid.UUID{b, 1, 2} }
	for _, rows := range [][]carried{nil, {{1, id(1)}}, {{0, id(0)}, {5, id(5)}, {1 << 40, id(7)}, {1<<63 - 1, id(9)}}} {
		got, err := decodeTableProgress(tableProgress(rows))
		if err != nil || !slices.Equal(got, rows) && len(rows) > 0 {
			t.Errorf("%v: decoded %v, %v", rows, got, err)
		}
	}
	one := tableProgress([]carried{{3, id(3)}})
	for _, bad := range [][]byte{{2, 't', 0}, {1, 's', 0}, {1, 't', 5, 1}, one[:len(one)-1], append(one, 0)} {
		if _, err := decodeTableProgress(bad); err == nil {
			t.Errorf("%v decoded", bad)
		}
	}
}

func TestStreamProgress(t *testing.T) {
	done := source.Pos{Commit: 100, Index: 3}
	sent := []source.Pos{{Commit: 100, Index: 5}, {Commit: 180, Index: 0}, {Commit: 180, Index: 1}}
	d, s, err := decodeStreamProgress(streamProgress(done, sent))
	if err != nil || d != done || !slices.Equal(s, sent) {
		t.Fatalf("decoded %v %v, %v", d, s, err)
	}
	for _, c := range []struct {
		p    source.Pos
		want bool
	}{{source.Pos{Commit: 90, Index: 9}, true}, {done, true}, {source.Pos{Commit: 100, Index: 4}, false},
		{sent[0], true}, {sent[2], true}, {source.Pos{Commit: 180, Index: 2}, false}} {
		if got := handled(c.p, d, s); got != c.want {
			t.Errorf("handled(%v) = %v", c.p, got)
		}
	}
	if _, _, err := decodeStreamProgress(tableProgress([]carried{{seq: 1}})); err == nil {
		t.Error("a table's progress decoded as a stream's")
	}
}

// FuzzProgress checks that the decoders never panic, and that what they accept
// encodes back to the same bytes.
func FuzzProgress(f *testing.F) {
	f.Add(tableProgress([]carried{{seq: 1}, {seq: 2, id: uuid.UUID{9}}, {seq: 300}}))
	f.Add(streamProgress(source.Pos{Commit: 7}, []source.Pos{{Commit: 9, Index: 2}}))
	f.Add([]byte{1, 't', 255, 255, 255, 255, 255, 255, 255, 255, 255, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if rows, err := decodeTableProgress(b); err == nil && len(b) > 0 {
			if again := tableProgress(rows); !bytes.Equal(again, b) {
				t.Errorf("table %x decoded to %v, encoded to %x", b, rows, again)
			}
		}
		if done, sent, err := decodeStreamProgress(b); err == nil && len(b) > 0 {
			if again := streamProgress(done, sent); !bytes.Equal(again, b) {
				t.Errorf("stream %x decoded to %v %v, encoded to %x", b, done, sent, again)
			}
		}
	})
}

// A stream's progress moves done over the stretch as far as every record is handled,
// keeps the records sent past a gap, and drops them once done passes them.
func TestStreamTxWith(t *testing.T) {
	p := func(c uint64, i uint32) source.Pos { return source.Pos{Commit: c, Index: i} }
	stretch := []source.Record{{Pos: p(10, 0)}, {Pos: p(10, 1)}, {Pos: p(20, 0)}, {Pos: p(30, 0)}}
	s := streamTx{done: p(5, 3)}
	// The first round sends all but the second record (it failed permanently).
	s = s.with(stretch, p(10, 0), p(20, 0), p(30, 0))
	if s.done != p(10, 0) || !slices.Equal(s.sent, []source.Pos{p(20, 0), p(30, 0)}) {
		t.Fatalf("after the round: %+v", s)
	}
	if handled(p(10, 1), s.done, s.sent) || !handled(p(20, 0), s.done, s.sent) {
		t.Fatal("the failed record counts as handled, or a sent one does not")
	}
	// Its dead letter stored, the whole stretch is handled.
	s = s.with(stretch, p(10, 1))
	if s.done != p(30, 0) || len(s.sent) != 0 {
		t.Fatalf("after the dead letter: %+v", s)
	}
	// A replay of the stretch skips all of it; the next one sends.
	if n := len(s.unhandled(append(stretch, source.Record{Pos: p(40, 0)}))); n != 1 {
		t.Fatalf("%d records left of a replay, want the one new", n)
	}
}
