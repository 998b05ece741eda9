package outboxschema

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/inbox"
)

// Decode decodes data, in the wire format, into v, a pointer to a type the Serde has a
// codec for. The writer's schema is fetched by the id in data on first use, and
// resolved against the codec's. A value that cannot be decoded fails with ErrSchema,
// naming the schema; a registry that does not answer fails without it.
func (s *Serde) Decode(ctx context.Context, data []byte, v any) error {
	pt := reflect.TypeOf(v)
	if pt == nil || pt.Kind() != reflect.Pointer {
		return fmt.Errorf("%w: decode into %v: want a pointer", ErrSchema, pt)
	}
	c, err := s.codec(pt.Elem())
	if err != nil {
		return err
	}
	id, body, err := s.header.DecodeID(data)
	if err != nil {
		return fmt.Errorf("%w: not in the schema registry's wire format: %w", ErrSchema, err)
	}
	read, writer, err := s.reader(ctx, id, c)
	if err != nil {
		return err
	}
	if writer == sr.TypeProtobuf {
		if _, body, err = s.header.DecodeIndex(body, 64); err != nil {
			return fmt.Errorf("%w: schema %d: message index: %w", ErrSchema, id, err)
		}
	}
	if err := read(body, v); err != nil {
		return fmt.Errorf("%w: decode %v from schema %d: %w", ErrSchema, c.Type(), id, err)
	}
	return nil
}

// reader returns the decoder of schema id's data into c's type, and the writer
// schema's format.
func (s *Serde) reader(ctx context.Context, id int, c Codec) (func([]byte, any) error, sr.SchemaType, error) {
	k := readerKey{id: id, typ: c.Type()}
	s.mu.Lock()
	read, ok := s.readers[k]
	s.mu.Unlock()
	if ok {
		return read, c.Schema().Type, nil
	}
	writer, err := s.cl.SchemaByID(ctx, id)
	switch {
	case err != nil && notFound(err):
		return nil, 0, fmt.Errorf("%w: the registry holds no schema %d: %w", ErrSchema, id, err)
	case err != nil:
		return nil, 0, fmt.Errorf("outboxschema: the registry did not answer for schema %d: %w", id, err)
	case writer.Type != c.Schema().Type:
		return nil, 0, fmt.Errorf("%w: schema %d is %v, and %v's codec reads %v", ErrSchema, id, writer.Type, c.Type(), c.Schema().Type)
	}
	if read, err = c.Reader(writer); err != nil {
		return nil, 0, fmt.Errorf("%w: %v cannot read schema %d: %w", ErrSchema, c.Type(), id, err)
	}
	s.mu.Lock()
	s.readers[k] = read
	s.mu.Unlock()
	return read, writer.Type, nil
}

// Handler is an inbox handler that decodes each record's value into a T and calls fn.
// A value that cannot be decoded is dead-lettered at once (outbox.ErrPermanent), with
// the schema named in its error; a registry that does not answer is retried.
func Handler[TTx, T any](s *Serde, fn func(ctx context.Context, tx TTx, m *inbox.Message, v T) error) inbox.Handler[TTx] {
	return func(ctx context.Context, tx TTx, m *inbox.Message) error {
		var v T
		if err := s.Decode(ctx, m.Value, &v); err != nil {
			if errors.Is(err, ErrSchema) {
				return fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
			}
			return err
		}
		return fn(ctx, tx, m, v)
	}
}
