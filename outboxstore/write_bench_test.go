package outboxstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

// discard is a driver whose transactions take statements and send nothing.
type discard struct{ database Database }

func (d discard) Database() Database                 { return d.database }
func (d discard) DB() (sqldb.DB, error)              { return nil, nil }
func (d discard) Tx(struct{}) (sqldb.Querier, error) { return discardQ{}, nil }

type discardQ struct{}

func (discardQ) Exec(context.Context, string, ...any) (int64, error)       { return 0, nil }
func (discardQ) Query(context.Context, string, ...any) (sqldb.Rows, error) { return nil, nil }

// BenchmarkWrite measures what Write adds to the caller's transaction before its one
// round trip: validating 100 events of 1 KiB and building their INSERT.
func BenchmarkWrite(b *testing.B) {
	for _, db := range []Database{PostgreSQL, MySQL, SQLite} {
		b.Run(string(db), func(b *testing.B) {
			s, err := New[struct{}](discard{db}, nil)
			if err != nil {
				b.Fatal(err)
			}
			msgs := make([]outbox.Message, 100)
			for i := range msgs {
				msgs[i] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i), Payload: make([]byte, 1024),
					Headers: map[string]string{"traceparent": "00-abc-def-01"}}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(ctx, struct{}{}, msgs...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
