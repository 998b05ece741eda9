package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/cmd/internal/dburl"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/outboxschema/jsonschema"
	"github.com/firstunicorn/outbox/outboxschema/protobuf"
	"github.com/firstunicorn/outbox/testkit/shoppb"
)

// benchOrder is the formats scenario's event: the ledger's token, so the drain's
// records can be checked once decoded, and a pad that brings it to PayloadBytes.
type benchOrder struct {
	Token string `avro:"token" json:"token"`
	Total int64  `avro:"total" json:"total"`
	Pad   string `avro:"pad" json:"pad"`
}

func (benchOrder) EventType() string { return "bench" }

const benchOrderJSON = `{"title":"BenchOrder","type":"object","required":["token","total","pad"],
	"properties":{"token":{"type":"string"},"total":{"type":"integer"},"pad":{"type":"string"}}}`

const benchOrderAvro = `{"type":"record","name":"BenchOrder","namespace":"outbox.bench","fields":[
	{"name":"token","type":"string"},{"name":"total","type":"long"},{"name":"pad","type":"string"}]}`

// payloadCodec encodes the drain's events in a wire format, and reads their ledger
// token back for the check.
type payloadCodec struct {
	name   string
	encode func(ctx context.Context, topic string, token []byte, pad string) ([]byte, error)
	token  func(ctx context.Context, value []byte) ([]byte, error)
}

// formats measures what the wire formats cost, side by side in one run: a relay that
// sends CloudEvents headers, and events encoded by a schema registry's serde (Avro,
// Protobuf), each drained against a plain drain of the same backlog; and the writes of
// events encoded by each serde against encoding/json's (outbox.NewMessage).
func (e *env) formats(ctx context.Context, rep *Report) error {
	variants := []drainVariant{{name: "plain"}, {name: "cloudevents", set: func(e *env) func() {
		saved := e.extraRelayArgs
		e.extraRelayArgs = append(slices.Clone(saved), "--cloudevents-source", "/bench")
		return func() { e.extraRelayArgs = saved }
	}}}
	var reg *sr.Client // nil: no --schema-registry-url, so no Avro, Protobuf or JSON Schema rows
	if e.cfg.SchemaRegistryURL == "" {
		e.log.Info("formats: no --schema-registry-url, so no Avro or Protobuf rows")
	} else {
		var err error
		if reg, err = sr.NewClient(sr.URLs(e.cfg.SchemaRegistryURL)); err != nil {
			return fmt.Errorf("formats: %w", err)
		}
		codecs, err := benchCodecs(reg)
		if err != nil {
			return err
		}
		for _, c := range codecs {
			variants = append(variants, drainVariant{name: c.name, set: func(e *env) func() {
				e.codec = &c
				return func() { e.codec = nil }
			}})
		}
	}
	n := max(e.cfg.DrainEvents/4, 1)
	med, ranges, err := e.drainMedians(ctx, "formats", n, variants)
	if err != nil {
		return err
	}
	base := rate(n, med[0].elapsed)
	rep.add("formats.drain_plain", base, "events/s", "%d events, 1 relay process, raw payloads, %s: the baseline of the rows below", n, ranges[0])
	for i, v := range variants[1:] {
		r := rate(n, med[i+1].elapsed)
		what := map[string]string{
			"cloudevents": "with --cloudevents-source (binary mode: ce_* headers, each attribute once)",
			"avro":        "with the events Avro-encoded in the registry's wire format",
			"protobuf":    "with the events Protobuf-encoded in the registry's wire format",
		}[v.name]
		target := map[string]string{"cloudevents": "3"}[v.name]
		if target == "" {
			target = "10"
		}
		rep.add("formats.drain_"+v.name, r, "events/s", "the same %s, %s: %.1f%% slower than plain (target <= %s%%)", what, ranges[i+1], 100*(1-r/base), target)
	}
	if reg == nil {
		return nil
	}
	return e.formatWrites(ctx, rep, reg)
}

// benchCodecs are the drain's serdes: Avro and Protobuf (the relay carries bytes, so
// JSON Schema's, encoding/json's with a header, would add nothing).
func benchCodecs(reg *sr.Client) ([]payloadCodec, error) {
	codecs, err := formatCodecs()
	if err != nil {
		return nil, err
	}
	serde, err := outboxschema.New(reg, &outboxschema.Config{AutoRegister: true, Subjects: outboxschema.RecordName}, codecs[:2]...)
	if err != nil {
		return nil, err
	}
	return []payloadCodec{
		{name: "avro", encode: func(ctx context.Context, topic string, token []byte, pad string) ([]byte, error) {
			return serde.Encode(ctx, topic, benchOrder{Token: string(token), Total: 1999, Pad: pad})
		}, token: func(ctx context.Context, v []byte) ([]byte, error) {
			var o benchOrder
			err := serde.Decode(ctx, v, &o)
			return []byte(o.Token), err
		}},
		{name: "protobuf", encode: func(ctx context.Context, topic string, token []byte, pad string) ([]byte, error) {
			return serde.Encode(ctx, topic, &shoppb.ShipmentSent{Id: string(token), WeightGrams: 1999, Carrier: pad})
		}, token: func(ctx context.Context, v []byte) ([]byte, error) {
			var s *shoppb.ShipmentSent
			err := serde.Decode(ctx, v, &s)
			return []byte(s.GetId()), err
		}},
	}, nil
}

// formatWrites: one-event transactions whose event is encoded by encoding/json
// (outbox.NewMessage), Avro, Protobuf or JSON Schema (outboxschema's NewMessage), in
// rotating rounds, each row the median of its rounds.
func (e *env) formatWrites(ctx context.Context, rep *Report, reg *sr.Client) error {
	if err := e.resetSchema(ctx); err != nil {
		return err
	}
	serdes, err := writeSerdes(reg)
	if err != nil {
		return err
	}
	pad := strings.Repeat("x", max(e.cfg.PayloadBytes-40, 0))
	variants := []struct {
		name string
		msg  func(ctx context.Context, o benchOrder) (outbox.Message, error)
	}{
		{"json", func(_ context.Context, o benchOrder) (outbox.Message, error) { return outbox.NewMessage("orders", o) }},
		{"avro", func(ctx context.Context, o benchOrder) (outbox.Message, error) {
			return serdes[0].NewMessage(ctx, "orders", o)
		}},
		{"protobuf", func(ctx context.Context, o benchOrder) (outbox.Message, error) {
			return serdes[1].NewMessage(ctx, "orders", &shoppb.ShipmentSent{Id: o.Token, WeightGrams: o.Total, Carrier: o.Pad})
		}},
		{"jsonschema", func(ctx context.Context, o benchOrder) (outbox.Message, error) {
			return serdes[2].NewMessage(ctx, "orders", o)
		}},
	}
	rates := make([][]float64, len(variants))
	err = rotating(overheadRounds, len(variants), func(i int) error {
		var txs atomic.Int64
		elapsed, err := e.forWriters(ctx, func(ctx context.Context, w, j int) error {
			return e.db.InTx(ctx, func(tx dburl.Tx) error {
				m, err := variants[i].msg(ctx, benchOrder{Token: fmt.Sprintf("o%d-%d", w, j), Total: 1999, Pad: pad})
				if err != nil {
					return err
				}
				if err := tx.Write(ctx, m); err != nil {
					return err
				}
				txs.Add(1)
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("formats write %s: %w", variants[i].name, err)
		}
		rates[i] = append(rates[i], rate(int(txs.Load()), elapsed))
		return nil
	})
	if err != nil {
		return err
	}
	base := medianRate(rates[0])
	for i, v := range variants {
		r := medianRate(rates[i])
		rep.add("formats.write_"+v.name, r, "tx/s", "one-event transactions, %d writers, the event encoded by %s, median of %d runs: %.1f%% fewer than encoding/json",
			e.cfg.Writers, v.name, overheadRounds, 100*(1-r/base))
	}
	return nil
}

// writeSerdes are the writes' serdes, one per format, registering their schemas.
func writeSerdes(reg *sr.Client) ([]*outboxschema.Serde, error) {
	codecs, err := formatCodecs()
	if err != nil {
		return nil, err
	}
	var out []*outboxschema.Serde
	for _, c := range codecs {
		s, err := outboxschema.New(reg, &outboxschema.Config{AutoRegister: true, Subjects: outboxschema.TopicRecordName}, c)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// formatCodecs are the bench events' codecs: Avro, Protobuf and JSON Schema.
func formatCodecs() ([]outboxschema.Codec, error) {
	ac, err := avro.Codec[benchOrder](benchOrderAvro)
	if err != nil {
		return nil, err
	}
	pc, err := protobuf.Codec[*shoppb.ShipmentSent](shoppb.Proto)
	if err != nil {
		return nil, err
	}
	jc, err := jsonschema.Codec[benchOrder](benchOrderJSON)
	if err != nil {
		return nil, err
	}
	return []outboxschema.Codec{ac, pc, jc}, nil
}
