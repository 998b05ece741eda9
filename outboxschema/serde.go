package outboxschema

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox"
)

// Config tunes a Serde. A nil *Config means all defaults.
type Config struct {
	// Subjects names the subject of a topic's values. Default TopicName.
	Subjects Subjects
	// AutoRegister registers a schema that its subject does not hold yet. Default
	// false: the schema must be registered already, and a write that needs one that is
	// not fails, naming the subject.
	AutoRegister bool
}

// ErrSchema is wrapped by every failure of a value to fit its schema, or of a record
// to decode: what no retry can fix.
var ErrSchema = errors.New("outboxschema")

// Serde encodes and decodes the values of the types it holds codecs for. Its methods
// are safe for concurrent use.
type Serde struct {
	cl     *sr.Client
	cfg    Config
	codecs map[reflect.Type]Codec
	header sr.ConfluentHeader

	mu      sync.Mutex
	ids     map[idKey]int                         // schema ids by subject and type, once known
	readers map[readerKey]func([]byte, any) error // by writer schema id and reader type
}

type idKey struct {
	subject string
	typ     reflect.Type
}

type readerKey struct {
	id  int
	typ reflect.Type
}

// New returns a Serde over cl for the codecs' types, one codec a type.
func New(cl *sr.Client, cfg *Config, codecs ...Codec) (*Serde, error) {
	if cl == nil {
		return nil, fmt.Errorf("%w: outboxschema: nil *sr.Client", outbox.ErrInvalidConfig)
	}
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Subjects < TopicName || cfg.Subjects > TopicRecordName {
		return nil, fmt.Errorf("%w: outboxschema: unknown %v: use TopicName, RecordName or TopicRecordName", outbox.ErrInvalidConfig, cfg.Subjects)
	}
	s := &Serde{cl: cl, cfg: *cfg, codecs: map[reflect.Type]Codec{}, ids: map[idKey]int{}, readers: map[readerKey]func([]byte, any) error{}}
	for _, c := range codecs {
		if _, dup := s.codecs[c.Type()]; dup {
			return nil, fmt.Errorf("%w: outboxschema: two codecs for %v", outbox.ErrInvalidConfig, c.Type())
		}
		s.codecs[c.Type()] = c
	}
	return s, nil
}

// NewMessage is outbox.NewMessage with the payload encoded by ev's schema: call it in
// the transaction that writes the event, so that an event its schema refuses fails
// the transaction. The schema's id is looked up (or registered) on first use.
func (s *Serde) NewMessage(ctx context.Context, topic string, ev outbox.Event) (outbox.Message, error) {
	return outbox.EncodeMessage(topic, ev, func(ev outbox.Event) ([]byte, error) { return s.Encode(ctx, topic, ev) })
}

// Encode returns v encoded for topic in the wire format, with its schema's id.
func (s *Serde) Encode(ctx context.Context, topic string, v any) ([]byte, error) {
	c, err := s.codec(reflect.TypeOf(v))
	if err != nil {
		return nil, err
	}
	id, err := s.id(ctx, topic, c)
	if err != nil {
		return nil, err
	}
	b, err := s.header.AppendEncode(nil, id, c.Index())
	if err != nil {
		return nil, fmt.Errorf("outboxschema: %w", err)
	}
	if b, err = c.AppendEncode(b, v); err != nil {
		return nil, fmt.Errorf("%w: %v does not fit schema %d (%s): %w", ErrSchema, c.Type(), id, c.Name(), err)
	}
	return b, nil
}

func (s *Serde) codec(t reflect.Type) (Codec, error) {
	c, ok := s.codecs[t]
	if !ok {
		return nil, fmt.Errorf("%w: no codec for %v: pass one to outboxschema.New", ErrSchema, t)
	}
	return c, nil
}

// id returns the schema id of c's values on topic: cached, else looked up in the
// registry (or registered, with AutoRegister).
func (s *Serde) id(ctx context.Context, topic string, c Codec) (int, error) {
	if s.cfg.Subjects != TopicName && c.Name() == "" {
		return 0, fmt.Errorf("%w: the schema of %v has no record name, which %v needs: give it one (JSON Schema: a title)", ErrSchema, c.Type(), s.cfg.Subjects)
	}
	k := idKey{subject: s.cfg.Subjects.subject(topic, c.Name()), typ: c.Type()}
	s.mu.Lock()
	id, ok := s.ids[k]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	ss, err := s.cl.LookupSchema(ctx, k.subject, c.Schema())
	if err != nil && s.cfg.AutoRegister && notFound(err) {
		ss, err = s.cl.CreateSchema(ctx, k.subject, c.Schema())
	}
	switch {
	case err != nil && notFound(err):
		return 0, fmt.Errorf("%w: subject %q does not hold the schema of %v: register it (or set Config.AutoRegister): %w",
			ErrSchema, k.subject, c.Type(), err)
	case err != nil:
		return 0, fmt.Errorf("outboxschema: the registry did not answer for subject %q, which %v needs: %w", k.subject, c.Type(), err)
	}
	s.mu.Lock()
	s.ids[k] = ss.ID
	s.mu.Unlock()
	return ss.ID, nil
}

// notFound reports whether err is the registry's "not found" (subject, version or
// schema).
func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && sr.IsNotFoundError(re.ErrorCode)
}
