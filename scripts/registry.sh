# Apicurio Registry, a schema registry with the Confluent-compatible API at
# /apis/ccompat/v7, for the schema tests: sourced by services.sh, started only on demand
# (`services.sh up registry`). Its ready-to-run build comes from Maven Central
# (scripts/registry/pom.xml) and needs Java 21 or later: it runs on the Temurin 25 JDK
# this kind of machine has beside Java 17 (3.0.x ran on 17 but refused JSON Schema).
# In-memory storage: a restart forgets every schema, so tests register their own.
#
# Environment (defaults in brackets):
#   OUTBOX_REGISTRY_PORT  HTTP API                            [58081] (management: +1)
#   OUTBOX_REGISTRY_JAVA  a java of version 21 or later        [the newest in /usr/lib/jvm]

registry_port=${OUTBOX_REGISTRY_PORT:-58081}
registry_mgmt_port=$((registry_port + 1))
registry_version=$(sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$here/registry/pom.xml")
registry_home=$cache/apicurio-registry-$registry_version

registry_running() { pid_running "$state/registry/pid" quarkus-run.jar; }

# registry_java finds a java of version 21 or later: Temurin's, else any in /usr/lib/jvm.
registry_java() {
	local j
	for j in ${OUTBOX_REGISTRY_JAVA:-} /usr/lib/jvm/temurin-2[5-9]*/bin/java /usr/lib/jvm/*-2[1-9]*/bin/java; do
		[ -x "$j" ] && { echo "$j"; return; }
	done
	die "Apicurio Registry $registry_version needs Java 21 or later: none in /usr/lib/jvm (set OUTBOX_REGISTRY_JAVA)"
}

# registry_fetch unpacks the build; the plugin's markers (which say what it unpacked) go
# with the unpacked files, not into the repository's scripts/registry/target.
registry_fetch() {
	maven_fetch "Apicurio Registry $registry_version" "$here/registry/pom.xml" "$registry_home" \
		unpack -DoutputDirectory="$registry_home" -Dmarkers.dir="$registry_home/.markers"
}

registry_up() {
	local java
	registry_fetch
	java=$(registry_java)
	mkdir -p "$state/registry" "$logs"
	if ! registry_running; then
		log "starting Apicurio Registry $registry_version on 127.0.0.1:$registry_port ($java)"
		(exec "$java" -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
			-Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$registry_port" \
			-Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$registry_mgmt_port" \
			-jar "$registry_home/quarkus-run.jar" >"$logs/registry.log" 2>&1 </dev/null) &
		echo $! >"$state/registry/pid"
		disown
	fi
	wait_ports "Apicurio Registry" "$state/registry/pid" "$logs/registry.log" "$registry_port" "$registry_mgmt_port"
	local i
	for i in $(seq 1 60); do
		http_ok "$registry_mgmt_port" /health/ready && return
		sleep 0.5
	done
	tail -20 "$logs/registry.log" >&2
	die "Apicurio Registry is not ready after 30 s (log: $logs/registry.log)"
}

# http_ok PORT PATH: a GET of 127.0.0.1:PORT/PATH answers 200 (bash alone, no curl).
http_ok() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
		head -n 1 <&3 | grep -q ' 200 '
	) 2>/dev/null
}

registry_down() { registry_running && stop_pid "Apicurio Registry" "$state/registry/pid" 20 || true; }

registry_env() { echo "OUTBOX_SCHEMA_REGISTRY_URL=http://127.0.0.1:$registry_port/apis/ccompat/v7"; }

registry_status() {
	if registry_running && port_open "$registry_port"; then
		echo "registry: up   127.0.0.1:$registry_port (Confluent API at /apis/ccompat/v7)"
	else
		echo "registry: down (optional: up registry)"
	fi
}
