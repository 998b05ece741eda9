// Package outboxschema encodes events for the outbox with schemas from a schema
// registry, and decodes them in the inbox: the Confluent wire format (a magic byte, the
// schema's id, for Protobuf the message index, then the encoded value) over franz-go's
// pkg/sr client, against a registry with the Confluent API. It is tested against
// Apicurio Registry's (/apis/ccompat/v7); Confluent's and Redpanda's speak the same
// API but are not tested here.
//
// The formats live in packages of their own, so a service links only the one it uses:
// outboxschema/avro, outboxschema/protobuf and outboxschema/jsonschema each make a
// Codec, the schema of one Go type. A Serde holds the codecs:
//
//   - NewMessage, in the caller's transaction before Store.Write, encodes an event with
//     its type's schema. An event that does not fit fails there, naming the field, and
//     the caller's transaction rolls back: no event is stored that its consumers could
//     not read.
//   - The schema's id is looked up in the registry on first use and then cached: a
//     registry outage fails only the writes that need a schema not yet used, with an
//     error that says so. AutoRegister registers schemas the registry does not hold
//     yet; by default they must be registered already, as production registries
//     usually demand.
//   - Decode, and Handler for the inbox, decode a record by the schema id it carries
//     into the consumer's type: the writer's schema is fetched by id (once) and resolved
//     against the consumer's, so a consumer holding an older compatible schema reads
//     newer events.
//
// Only values are schema-encoded. A record's key stays the bytes the writer gave
// (Message.Key): its partition, hence the order of its events, does not change when
// the value's schema evolves. A key encoded with a schema would carry its schema's id,
// and a new version would move the key to another partition.
package outboxschema
