package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// defaultServiceName names the relay's traces unless OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const defaultServiceName = "outbox-relay"

// otlpConfig is what the standard OpenTelemetry environment asks of the relay's traces.
type otlpConfig struct {
	on       bool
	endpoint string // for the log line; the exporter reads the environment itself
}

// parseOTLP reads the standard variables: export over OTLP when an endpoint is set
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT) or
// OTEL_TRACES_EXPORTER=otlp, and not when OTEL_TRACES_EXPORTER=none or
// OTEL_SDK_DISABLED=true. Only OTLP over HTTP (http/protobuf, port 4318) is built in.
func parseOTLP(getenv func(string) string) (otlpConfig, error) {
	first := func(keys ...string) (string, string) {
		for _, k := range keys {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return k, v
			}
		}
		return keys[len(keys)-1], ""
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return otlpConfig{}, nil
	}
	exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	switch exporter {
	case "", "otlp":
	case "none":
		return otlpConfig{}, nil
	default:
		return otlpConfig{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: the relay exports traces over OTLP; use otlp, or none", exporter)
	}
	key, endpoint := first("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" && exporter == "" {
		return otlpConfig{}, nil
	}
	if pkey, p := first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return otlpConfig{}, fmt.Errorf("%s=%q: the relay sends OTLP over HTTP only; use http/protobuf and the collector's HTTP port (4318)", pkey, p)
	}
	if endpoint == "" {
		return otlpConfig{on: true, endpoint: "http://localhost:4318 (the default)"}, nil
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return otlpConfig{}, fmt.Errorf("%s=%q is not a URL: use one like http://collector:4318", key, endpoint)
	}
	return otlpConfig{on: true, endpoint: endpoint}, nil
}

// startTracing installs an SDK TracerProvider exporting over OTLP/HTTP in batches, as
// the environment says (sampler, headers, timeouts: the SDK and exporter read their
// own variables), and returns it with a function that flushes and stops it.
func startTracing(ctx context.Context, cfg otlpConfig, log *slog.Logger) (*sdktrace.TracerProvider, func(), error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(defaultServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID())
	if err != nil {
		return nil, nil, fmt.Errorf("OTel resource from OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("exporting traces", "err", err) }))
	log.Info("exporting traces over OTLP", "endpoint", cfg.endpoint)
	return tp, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}, nil
}
