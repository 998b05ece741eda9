package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// RegistryURL is the services script's schema registry, Apicurio's Confluent API
// (OUTBOX_SCHEMA_REGISTRY_URL overrides it).
func RegistryURL() string {
	return env("OUTBOX_SCHEMA_REGISTRY_URL", "http://127.0.0.1:58081/apis/ccompat/v7")
}

// Registry returns a client of the schema registry. A test that needs it skips, or
// fails under CI, when it does not answer.
func Registry(t testing.TB) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(RegistryURL()))
	if err != nil {
		t.Fatalf("schema registry client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := cl.Subjects(ctx); err != nil {
		Need(t, "the schema registry (scripts/services.sh up registry)", err)
	}
	return cl
}

// Interop returns the Java interop check's classpath and source file, which
// `scripts/services.sh up interop` fetches and `env` prints. A test that needs them
// skips, or fails under CI, without them, or without java.
func Interop(t testing.TB) (classpath, source string) {
	t.Helper()
	classpath, source = os.Getenv("OUTBOX_INTEROP_CLASSPATH"), os.Getenv("OUTBOX_INTEROP_SOURCE")
	var err error
	switch {
	case classpath == "" || source == "":
		err = errors.New("OUTBOX_INTEROP_CLASSPATH or OUTBOX_INTEROP_SOURCE is not set")
	default:
		if _, err = os.Stat(source); err == nil {
			_, err = exec.LookPath("java")
		}
	}
	if err != nil {
		Need(t, "the Java interop check (scripts/services.sh up interop)", err)
	}
	return classpath, source
}
