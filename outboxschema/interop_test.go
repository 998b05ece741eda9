package outboxschema_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/firstunicorn/outbox"
	"github.com/firstunicorn/outbox/outboxkafka"
	"github.com/firstunicorn/outbox/outboxschema"
	"github.com/firstunicorn/outbox/outboxschema/avro"
	"github.com/firstunicorn/outbox/relay"
	"github.com/firstunicorn/outbox/testkit/testenv"
)

// Outside Go: Kafka's Java consumer reads what our relay published as CloudEvents in
// binary mode, and Apache Avro decodes every value with the writer's schema, fetched by
// the id in the record from the registry's REST API (scripts/interop/Interop.java).
func TestJavaInterop(t *testing.T) {
	t.Parallel()
	const n = 40
	classpath, source := testenv.Interop(t)
	ctx := context.Background()
	o := testenv.NewOutbox(t, "postgres", outbox.Limits{})
	topic := testenv.Topic(t, 2, nil)
	serde := must(outboxschema.New(testenv.Registry(t), &outboxschema.Config{AutoRegister: true}, must(avro.Codec[orderPlaced](orderAvro))))
	ids := map[string]bool{} // each event's id, which the Java consumer reads in ce_id
	for i := range n {
		m := must(serde.NewMessage(ctx, topic, order(i)))
		m.ID = uuid.New()
		ids[m.ID.String()] = true
		if err := o.Write(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	pub := must(outboxkafka.New(testenv.Client(t, outboxkafka.ProducerOpts()...),
		&outboxkafka.Config{CloudEvents: &outboxkafka.CloudEvents{Source: "/orders"}}))
	r := must(relay.New(o.Store, pub, &relay.Config{LeaseTTL: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)}))
	testenv.Start(t, r)

	jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(jctx, "java", "-cp", classpath, source,
		strings.Join(testenv.Brokers(), ","), topic, testenv.RegistryURL(), fmt.Sprint(n))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("java: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	text := out.String()
	seen := map[string]bool{}
	for sc := bufio.NewScanner(strings.NewReader(text)); sc.Scan(); {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec struct {
			CEID   string      `json:"ce_id"`
			CEType string      `json:"ce_type"`
			Value  orderPlaced `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("java printed %q: %v", line, err)
		}
		var i int
		if _, err := fmt.Sscanf(rec.Value.ID, "o-%d", &i); err != nil || rec.Value != order(i) || rec.CEType != "order.placed" || !ids[rec.CEID] {
			t.Fatalf("java decoded %+v (ce_type %q, ce_id %q): not an event we wrote", rec.Value, rec.CEType, rec.CEID)
		}
		seen[rec.Value.ID] = true
	}
	if len(seen) != n || !strings.Contains(text, fmt.Sprintf("decoded %d", n)) {
		t.Fatalf("java decoded %d distinct events of %d:\n%s", len(seen), n, text)
	}
	t.Logf("Java (Kafka client, Apache Avro, the registry's REST API) decoded all %d events", n)
}
