// The Java side of the interop check (outboxschema.TestJavaInterop): Kafka's Java
// consumer reads a topic our relay published, checks each record's CloudEvents headers
// (binary mode), fetches the writer's Avro schema by the id in the record from the
// registry's REST API, and decodes the value with Apache Avro. It prints one JSON line
// per record: {"ce_id":..., "ce_type":..., "schema_id":..., "value":<the record>}, then
// "decoded N", and exits 1 on the first record it cannot read.
//
// Run as a single source file, no build: java -cp 'JARS/*' Interop.java BROKERS TOPIC REGISTRY N
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class Interop {
    public static void main(String[] args) throws Exception {
        String brokers = args[0], topic = args[1], registry = args[2];
        int want = Integer.parseInt(args[3]);
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "interop-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        HttpClient http = HttpClient.newHttpClient();
        ObjectMapper json = new ObjectMapper();
        Map<Integer, Schema> schemas = new HashMap<>();
        int decoded = 0;
        long deadline = System.currentTimeMillis() + 60_000;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            while (decoded < want && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    String ceID = header(r, "ce_id"), ceType = header(r, "ce_type");
                    if (!"1.0".equals(header(r, "ce_specversion")) || ceID == null || ceType == null) {
                        fail("offset " + r.offset() + ": no CloudEvents headers");
                    }
                    // Binary mode carries the event id once, as ce_id: a UUID, and no outbox-event-id.
                    if (header(r, "outbox-event-id") != null) {
                        fail("offset " + r.offset() + ": the event id twice, in ce_id and outbox-event-id");
                    }
                    try {
                        java.util.UUID.fromString(ceID);
                    } catch (IllegalArgumentException e) {
                        fail("offset " + r.offset() + ": ce_id " + ceID + " is not a UUID");
                    }
                    ByteBuffer b = ByteBuffer.wrap(r.value());
                    if (b.get() != 0) {
                        fail("offset " + r.offset() + ": no magic byte");
                    }
                    int id = b.getInt();
                    Schema schema = schemas.get(id);
                    if (schema == null) {
                        HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (resp.statusCode() != 200) {
                            fail("schema " + id + ": HTTP " + resp.statusCode() + " " + resp.body());
                        }
                        schema = new Schema.Parser().parse(json.readTree(resp.body()).get("schema").asText());
                        schemas.put(id, schema);
                    }
                    byte[] body = new byte[b.remaining()];
                    b.get(body);
                    GenericRecord rec = new GenericDatumReader<GenericRecord>(schema).read(null,
                            DecoderFactory.get().binaryDecoder(body, null));
                    System.out.println("{\"ce_id\":" + json.writeValueAsString(ceID) + ",\"ce_type\":" + json.writeValueAsString(ceType)
                            + ",\"schema_id\":" + id + ",\"value\":" + rec + "}");
                    decoded++;
                }
            }
        }
        System.out.println("decoded " + decoded);
        System.exit(decoded == want ? 0 : 1);
    }

    static String header(ConsumerRecord<byte[], byte[]> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static void fail(String msg) {
        System.out.println("interop: " + msg);
        System.exit(1);
    }
}
