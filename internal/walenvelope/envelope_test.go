package walenvelope

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
)

func sample() outbox.Message {
	return outbox.Message{
		ID: uuid.MustParse("0190b4b8-7c1e-7a3b-9b8e-1234567890ab"), Topic: "orders", Key: []byte("order-1"),
		Type: "order.created", AggregateType: "order", AggregateID: "1", Payload: []byte(`{"total":3}`),
		Headers:    map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "b": ""},
		OccurredAt: time.UnixMicro(1_780_000_000_123_456),
	}
}

func TestRoundTrip(t *testing.T) {
	empty := sample()
	empty.Key, empty.Payload, empty.Headers = []byte{}, []byte{}, nil
	none := sample()
	none.Key, none.Payload = nil, nil
	for name, m := range map[string]outbox.Message{"full": sample(), "empty key and payload": empty, "no key or payload": none} {
		t.Run(name, func(t *testing.T) {
			got, flags, err := Decode(Encode(nil, &m, FlagRedelivered))
			if err != nil {
				t.Fatal(err)
			}
			if flags != FlagRedelivered {
				t.Errorf("flags = %d", flags)
			}
			if !got.OccurredAt.Equal(m.OccurredAt) {
				t.Errorf("occurred %v, want %v", got.OccurredAt, m.OccurredAt)
			}
			got.OccurredAt = m.OccurredAt
			if !reflect.DeepEqual(got, m) {
				t.Errorf("got %#v\nwant %#v", got, m)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	m := sample()
	good := Encode(nil, &m, 0)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"future version", append([]byte{2}, good[1:]...), ErrVersion},
		{"cut short", good[:len(good)-3], ErrMalformed},
		{"trailing bytes", append(append([]byte{}, good...), 0), ErrMalformed},
		{"no id", Encode(nil, &outbox.Message{Topic: "t"}, 0), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Decode(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	m := sample()
	f.Add(Encode(nil, &m, 0))
	f.Add([]byte{1, 0})
	f.Add([]byte{9})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, flags, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to a message that decodes the same.
		again, flags2, err := Decode(Encode(nil, &got, flags))
		if err != nil || flags2 != flags || !again.OccurredAt.Equal(got.OccurredAt) {
			t.Fatalf("re-decode: %v", err)
		}
		again.OccurredAt = got.OccurredAt
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip changed %#v to %#v", got, again)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	m := sample()
	m.Payload = make([]byte, 1024)
	var buf []byte
	for b.Loop() {
		buf = Encode(buf[:0], &m, 0)
	}
}
