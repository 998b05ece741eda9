// Package jsonschema makes outboxschema codecs for JSON Schema: values are encoded with
// encoding/json and validated with github.com/santhosh-tekuri/jsonschema/v6 before they
// are written.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox/outboxschema"
)

// Codec returns the codec of T's values under the JSON Schema text. The schema's title,
// if any, is its record name (for outboxschema.RecordName and TopicRecordName).
func Codec[T any](schema string) (outboxschema.Codec, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("outboxschema/jsonschema: schema of %v: %w", reflect.TypeFor[T](), err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("outboxschema/jsonschema: %w", err)
	}
	compiled, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("outboxschema/jsonschema: schema of %v: %w", reflect.TypeFor[T](), err)
	}
	var title string
	if m, ok := doc.(map[string]any); ok {
		title, _ = m["title"].(string)
	}
	return &codec{typ: reflect.TypeFor[T](), text: schema, schema: compiled, name: title}, nil
}

// schemaURL is where the compiler files the schema: a URL of no place, so that errors
// do not name the process's working directory.
const schemaURL = "https://outboxschema.invalid/schema.json"

type codec struct {
	typ    reflect.Type
	text   string
	schema *jsonschema.Schema
	name   string
}

func (c *codec) Type() reflect.Type { return c.typ }
func (c *codec) Schema() sr.Schema  { return sr.Schema{Schema: c.text, Type: sr.TypeJSON} }
func (c *codec) Name() string       { return c.name }
func (c *codec) Index() []int       { return nil }

// AppendEncode validates v's JSON against the schema: the error names where it fails,
// such as at '/total': got string, want integer.
func (c *codec) AppendEncode(b []byte, v any) ([]byte, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(enc))
	if err != nil {
		return nil, err
	}
	if err := c.schema.Validate(inst); err != nil {
		return nil, flatten(err)
	}
	return append(b, enc...), nil
}

// flatten turns a validation error's tree, whose first line names the schema's
// location on disk, into its failures on one line: at '/cents': minimum: got 0, want 1.
func flatten(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var parts []string
	for _, u := range ve.BasicOutput().Errors {
		if u.Error != nil {
			parts = append(parts, fmt.Sprintf("at '%s': %s", u.InstanceLocation, u.Error))
		}
	}
	if len(parts) == 0 {
		return err
	}
	return errors.New(strings.Join(parts, "; "))
}

// Reader decodes with encoding/json whatever the writer's schema: properties the
// reader's type lacks are skipped, and those the writer did not send stay zero.
func (c *codec) Reader(sr.Schema) (func([]byte, any) error, error) {
	return json.Unmarshal, nil
}
