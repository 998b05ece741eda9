// Package avro makes outboxschema codecs for Apache Avro schemas, with
// github.com/hamba/avro/v2: a Go struct's fields map to the record's by their avro
// tags.
package avro

import (
	"fmt"
	"reflect"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox/outboxschema"
)

// Codec returns the codec of T's values under the Avro schema text, which must parse
// and name a record (or another named type).
func Codec[T any](schema string) (outboxschema.Codec, error) {
	s, err := parse(schema)
	if err != nil {
		return nil, fmt.Errorf("outboxschema/avro: %w", err)
	}
	named, ok := s.(avro.NamedSchema)
	if !ok {
		return nil, fmt.Errorf("outboxschema/avro: the schema of %v is a %s, not a named type: subjects are named after records", reflect.TypeFor[T](), s.Type())
	}
	return &codec{typ: reflect.TypeFor[T](), text: schema, schema: s, name: named.FullName()}, nil
}

// parse parses text on its own: hamba/avro's default cache would mix the named types of
// a writer's schema with another version's.
func parse(text string) (avro.Schema, error) {
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

type codec struct {
	typ    reflect.Type
	text   string
	schema avro.Schema
	name   string
}

func (c *codec) Type() reflect.Type { return c.typ }
func (c *codec) Schema() sr.Schema  { return sr.Schema{Schema: c.text, Type: sr.TypeAvro} }
func (c *codec) Name() string       { return c.name }
func (c *codec) Index() []int       { return nil }

func (c *codec) AppendEncode(b []byte, v any) ([]byte, error) {
	enc, err := avro.Marshal(c.schema, v)
	if err != nil {
		return nil, err // hamba/avro names the field: "avro: ... field total ..."
	}
	return append(b, enc...), nil
}

// Reader resolves the writer's schema against the codec's: fields the reader lacks are
// skipped, fields the writer lacks take their defaults.
func (c *codec) Reader(writer sr.Schema) (func([]byte, any) error, error) {
	w, err := parse(writer.Schema)
	if err != nil {
		return nil, fmt.Errorf("writer schema: %w", err)
	}
	resolved, err := avro.NewSchemaCompatibility().Resolve(c.schema, w)
	if err != nil {
		return nil, err
	}
	return func(data []byte, v any) error { return avro.Unmarshal(resolved, data, v) }, nil
}
