# Jaeger v2 (all-in-one, in-memory storage) for the tracing tests: sourced by services.sh,
# started only on demand (`services.sh up jaeger`). It is built once from the Go module
# proxy, as a tool, and the binary is cached beside the Kafka jars.
#
# Environment (defaults in brackets):
#   OUTBOX_JAEGER_QUERY_PORT  query API (HTTP)         [56686]
#   OUTBOX_JAEGER_OTLP_PORT   OTLP receiver over HTTP  [54318] (gRPC: one less)

jaeger_version=v1.76.0
jaeger_bin=$cache/jaeger-$jaeger_version/jaeger
jaeger_query_port=${OUTBOX_JAEGER_QUERY_PORT:-56686}
jaeger_otlp_port=${OUTBOX_JAEGER_OTLP_PORT:-54318}

jaeger_fetch() {
	if [ -x "$jaeger_bin" ]; then return; fi
	command -v go >/dev/null || die "Jaeger is built with Go: put go on PATH"
	local mod=$cache/jaeger-build
	log "building Jaeger $jaeger_version from the Go module proxy into $jaeger_bin (once; a few minutes)"
	rm -rf "$mod" && mkdir -p "$mod" "$(dirname "$jaeger_bin")" "$state"
	(cd "$mod" && go mod init jaeger-build &&
		go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$jaeger_version" &&
		go build -o "$jaeger_bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger) >"$state/jaeger-build.log" 2>&1 ||
		{ tail -20 "$state/jaeger-build.log" >&2; die "Jaeger build failed (log: $state/jaeger-build.log)"; }
	mv "$jaeger_bin.tmp" "$jaeger_bin"
	rm -rf "$mod"
}

jaeger_running() { pid_running "$state/jaeger/pid" "$jaeger_bin"; }

jaeger_up() {
	jaeger_fetch
	mkdir -p "$state/jaeger" "$logs"
	if ! jaeger_running; then
		log "starting Jaeger $jaeger_version: query 127.0.0.1:$jaeger_query_port, OTLP/HTTP 127.0.0.1:$jaeger_otlp_port"
		# Every listener on loopback: the query ports ignore JAEGER_LISTEN_HOST.
		(cd "$state/jaeger" && JAEGER_LISTEN_HOST=127.0.0.1 exec "$jaeger_bin" \
			--set=extensions.jaeger_query.http.endpoint=127.0.0.1:$jaeger_query_port \
			--set=extensions.jaeger_query.grpc.endpoint=127.0.0.1:$((jaeger_query_port - 1)) \
			--set=receivers.otlp.protocols.http.endpoint=127.0.0.1:$jaeger_otlp_port \
			--set=receivers.otlp.protocols.grpc.endpoint=127.0.0.1:$((jaeger_otlp_port - 1)) \
			>"$logs/jaeger.log" 2>&1 </dev/null) &
		echo $! >"$state/jaeger/pid"
		disown
	fi
	wait_ports Jaeger "$state/jaeger/pid" "$logs/jaeger.log" "$jaeger_query_port" "$jaeger_otlp_port"
}

jaeger_down() { jaeger_running && stop_pid Jaeger "$state/jaeger/pid" 10 || true; }

jaeger_env() {
	echo "OUTBOX_JAEGER_QUERY_URL=http://127.0.0.1:$jaeger_query_port"
	echo "OUTBOX_JAEGER_OTLP_URL=http://127.0.0.1:$jaeger_otlp_port"
}
