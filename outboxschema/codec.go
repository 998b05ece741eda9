package outboxschema

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/sr"
)

// Codec is the schema of one Go type in one format: the packages avro, protobuf and
// jsonschema under this one make them, and Serde calls them.
type Codec interface {
	// Type is the Go type the codec encodes, and decodes into a pointer to.
	Type() reflect.Type
	// Schema is the schema as the registry holds it.
	Schema() sr.Schema
	// Name is the schema's fully qualified record (or message) name: the subject under
	// RecordName and TopicRecordName.
	Name() string
	// Index is the message's index in its Protobuf file, for the wire format; nil for
	// the other formats.
	Index() []int
	// AppendEncode appends v, of the codec's type, encoded with the schema; a value that
	// does not fit fails with an error that names the field.
	AppendEncode(b []byte, v any) ([]byte, error)
	// Reader returns what decodes data written with writer (a schema of the registry,
	// found by the id in the data) into a pointer to the codec's type; it fails when
	// the schemas are not compatible.
	Reader(writer sr.Schema) (func(data []byte, v any) error, error)
}
