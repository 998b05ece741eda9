package outboxstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/internal/sqldb"
)

// discard is a driver whose transactions take statements and send nothing.
type discard struct{ database Database }

func (d discard) Database() Database            { return d.database }
func (d discard) DB() (sqldb.DB, error)         { return nil, nil }
func (d discard) Tx(struct{}) (sqldb.Tx, error) { return discardQ{}, nil }
func (d discard) Begin(context.Context) (struct{}, error) {
	return struct{}{}, errors.New("discard: no transactions")
}

type discardQ struct{}

func (discardQ) Exec(context.Context, string, ...any) (int64, error)       { return 0, nil }
func (discardQ) Query(context.Context, string, ...any) (sqldb.Rows, error) { return nil, nil }
func (discardQ) Commit(context.Context) error                              { return nil }
func (discardQ) Rollback(context.Context) error                            { return nil }

// BenchmarkWrite measures what Write adds to the caller's transaction before its one
// round trip: validating 100 events of 1 KiB and building their INSERT.
func BenchmarkWrite(b *testing.B) {
	for _, db := range []Database{PostgreSQL, MySQL, SQLite} {
		b.Run(string(db), func(b *testing.B) {
			benchWrite(b, db, context.Background(), map[string]string{"content-type": "application/json"})
		})
	}
}

// BenchmarkWriteTrace is BenchmarkWrite's PostgreSQL case without and with a span in
// ctx: the cost of storing the trace context with each event. No SDK is involved; the
// span context is what a tracing SDK would have put in the request's ctx.
func BenchmarkWriteTrace(b *testing.B) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	})
	headers := map[string]string{"content-type": "application/json"}
	b.Run("no_span", func(b *testing.B) { benchWrite(b, PostgreSQL, context.Background(), headers) })
	b.Run("span", func(b *testing.B) {
		benchWrite(b, PostgreSQL, trace.ContextWithSpanContext(context.Background(), sc), headers)
	})
}

func benchWrite(b *testing.B, db Database, ctx context.Context, headers map[string]string) {
	s, err := New[struct{}](discard{db}, nil)
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]outbox.Message, 100)
	for i := range msgs {
		msgs[i] = outbox.Message{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i), Payload: make([]byte, 1024), Headers: headers}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(ctx, struct{}{}, msgs...); err != nil {
			b.Fatal(err)
		}
	}
}
