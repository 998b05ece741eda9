#!/usr/bin/env bash
# services.sh up [jaeger] [prometheus] [kafka-cluster] [pg-ha] [chromium] [registry] [interop]|down|status|env, and
# partition kafka-cluster N|heal kafka-cluster (a network partition, see kafka-cluster.sh),
# failover|rejoin|switchover pg-ha, replication pg-ha sync|async (see pg-ha.sh) — the real
# PostgreSQL 15, MariaDB 10.11 and Apache Kafka 4.x the tests and the demo use.
#
# PostgreSQL and MariaDB come from Debian's packages, each run as a private server in a data
# directory of its own (not the system service); Kafka's jars come from Maven Central
# (scripts/kafka/pom.xml), run with the machine's Java 17 as a single-node KRaft
# broker+controller on 127.0.0.1.
# Idempotent: a second `up` reuses the installed packages, the cached jars and the data
# directories, and only starts what is not running. Nothing here needs Docker.
#
# Environment (defaults in brackets):
#   OUTBOX_SERVICES_DIR  state: data, logs, pid files   [/var/tmp/go-outbox]
#   OUTBOX_CACHE_DIR     downloaded Kafka jars          [$HOME/.cache/go-outbox]
#   OUTBOX_PG_PORT       PostgreSQL port                [55432]
#   OUTBOX_MARIADB_PORT  MariaDB port                   [53306]
#   OUTBOX_KAFKA_PORT    Kafka client port              [59092] (controller: +1)
#
# `up jaeger` also starts Jaeger (scripts/jaeger.sh), which the tracing tests need,
# `up prometheus` Prometheus (scripts/prometheus.sh), which the metrics tests need, and
# `up kafka-cluster` a three-node Kafka cluster (scripts/kafka-cluster.sh), which the
# chaos suite's cluster scenarios need, and `up pg-ha` a PostgreSQL 17 primary and hot
# standby (scripts/pg-ha.sh), which the failover tests need, and `up registry` Apicurio
# Registry (scripts/registry.sh), which the schema tests need, and `up interop` the jars
# of the Java interop check (scripts/interop.sh); `down` stops them too.
#
# Kafka has a second client listener for fault-injection tests, on OUTBOX_KAFKA_PORT+2,
# which advertises OUTBOX_KAFKA_PORT+3: a test proxy listening there (internal/faultproxy)
# sits between its clients and the broker on every connection, metadata included.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
state=${OUTBOX_SERVICES_DIR:-/var/tmp/go-outbox}
cache=${OUTBOX_CACHE_DIR:-$HOME/.cache/go-outbox}
pg_port=${OUTBOX_PG_PORT:-55432}
mariadb_port=${OUTBOX_MARIADB_PORT:-53306}
kafka_port=${OUTBOX_KAFKA_PORT:-59092}
controller_port=$((kafka_port + 1))
proxied_port=$((kafka_port + 2))
proxy_port=$((kafka_port + 3))
pg_version=15
pg_bin=/usr/lib/postgresql/$pg_version/bin
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
kafka_lib=$cache/kafka-$kafka_version/lib
logs=$state/logs

log() { printf '[services] %s\n' "$*" >&2; }
# shellcheck source=scripts/jaeger.sh
. "$here/jaeger.sh"
# shellcheck source=scripts/prometheus.sh
. "$here/prometheus.sh"
# shellcheck source=scripts/kafka-cluster.sh
. "$here/kafka-cluster.sh"
# shellcheck source=scripts/pg-ha.sh
. "$here/pg-ha.sh"
# shellcheck source=scripts/registry.sh
. "$here/registry.sh"
# shellcheck source=scripts/interop.sh
. "$here/interop.sh"
die() { log "error: $*"; exit 1; }

as_postgres() {
	# PostgreSQL refuses to run as root; run its tools as the postgres user when we are root.
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_install() {
	[ -x "$pg_bin/postgres" ] || apt_install "postgresql-$pg_version" "postgresql-client-$pg_version"
}

pg_up() {
	pg_install
	local data=$state/pg
	mkdir -p "$state" "$logs"
	if [ "$(id -u)" = 0 ]; then chown postgres "$state" "$logs"; fi
	if [ ! -s "$data/PG_VERSION" ]; then
		log "initialising PostgreSQL cluster in $data"
		as_postgres mkdir -p "$data"
		as_postgres "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$logs/initdb.log"
		cat >>"$data/postgresql.conf" <<-EOF
			listen_addresses = '127.0.0.1'
			port = $pg_port
			unix_socket_directories = '$state'
			wal_level = logical
			max_connections = 1000
			max_wal_senders = 64
			max_replication_slots = 64
			shared_buffers = 256MB
			fsync = on
		EOF
	fi
	if ! as_postgres "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		log "starting PostgreSQL on 127.0.0.1:$pg_port"
		as_postgres "$pg_bin/pg_ctl" -D "$data" -l "$logs/postgres.log" -w -t 60 start >/dev/null
	fi
	# The bench writes gigabytes of WAL: with the default 1 GB, checkpoints follow each
	# other every few seconds and their fsyncs show up as latency. A replication slot
	# forgotten by a probe or a killed test keeps every byte of WAL after it: one filled
	# a 66 GB disk with 63 GB of WAL during a bench run, and PostgreSQL could not even
	# recover. Such a slot is invalidated past 16 GB instead (the WAL tests of slot loss
	# use clusters of their own, testenv.PrivatePostgres).
	as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAq \
		-c "ALTER SYSTEM SET max_wal_size = '4GB'" -c "ALTER SYSTEM SET max_slot_wal_keep_size = '16GB'" \
		-c "SELECT pg_reload_conf()" >/dev/null
	# WAL mode: every relay, reader or standby, holds a replication connection, and the
	# tests run many slots side by side; with the relay processes' pools of every test
	# package running at once, 200 connections ran out, and then 400 did once in a CI
	# simulation ("too many clients", cmd/outbox's WAL tests). pg_stat_statements counts
	# the statements of the bench's steady scenario. The settings need a restart, done
	# once.
	if [ "$(as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc \
		"SELECT current_setting('max_wal_senders')::int >= 64 AND current_setting('max_connections')::int >= 1000
			AND current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'")" != t ]; then
		log "raising max_wal_senders and max_replication_slots to 64, max_connections to 1000, loading pg_stat_statements: restarting PostgreSQL"
		as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAq \
			-c "ALTER SYSTEM SET max_wal_senders = 64" -c "ALTER SYSTEM SET max_replication_slots = 64" \
			-c "ALTER SYSTEM SET max_connections = 1000" \
			-c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
		as_postgres "$pg_bin/pg_ctl" -D "$data" -l "$logs/postgres.log" -w -t 60 restart >/dev/null
	fi
	as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'outbox'" | grep -q 1 ||
		as_postgres "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres outbox
}

pg_down() {
	local data=$state/pg
	[ -s "$data/PG_VERSION" ] || return 0
	as_postgres "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 0
	log "stopping PostgreSQL"
	as_postgres "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
}

mariadb_install() {
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
}

mariadb_up() {
	mariadb_install
	local data=$state/mariadb as_root=()
	mkdir -p "$state" "$logs"
	if [ "$(id -u)" = 0 ]; then as_root=(--user=root); fi
	if [ ! -d "$data/mysql" ]; then
		log "initialising MariaDB in $data"
		mkdir -p "$data"
		mariadb-install-db --no-defaults --datadir="$data" "${as_root[@]}" --auth-root-authentication-method=normal \
			--skip-test-db >"$logs/mariadb-install.log" 2>&1 || { tail -20 "$logs/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
	fi
	if ! mariadb_running; then
		log "starting MariaDB on 127.0.0.1:$mariadb_port"
		# --no-defaults: none of /etc/mysql's settings (port, socket, bind address) apply.
		(exec /usr/sbin/mariadbd --no-defaults --datadir="$data" --port="$mariadb_port" --bind-address=127.0.0.1 \
			--socket="$data/mariadb.sock" --pid-file="$data/mariadb.pid" "${as_root[@]}" --log-error="$logs/mariadb.log" \
			--skip-name-resolve --max-connections=500 --innodb-buffer-pool-size=256M \
			>"$logs/mariadb.out" 2>&1 </dev/null) &
		disown
	fi
	local i
	for i in $(seq 1 120); do
		if mariadb_sql "SELECT 1" >/dev/null 2>&1; then break; fi
		[ "$i" = 120 ] && { tail -20 "$logs/mariadb.log" >&2; die "MariaDB did not start within 60s (log: $logs/mariadb.log)"; }
		sleep 0.5
	done
	# The tests and the CLI connect over TCP as outbox, which may create databases and
	# users of its own (a test's relay connections are told apart by user).
	mariadb_sql "CREATE USER IF NOT EXISTS 'outbox'@'%'; GRANT ALL PRIVILEGES ON *.* TO 'outbox'@'%' WITH GRANT OPTION;
		CREATE DATABASE IF NOT EXISTS outbox" || die "MariaDB: could not create the outbox user and database"
}

mariadb_sql() { mariadb --no-defaults --socket="$state/mariadb/mariadb.sock" -uroot -e "$1"; }

mariadb_running() { pid_running "$state/mariadb/mariadb.pid" mariadbd; }

mariadb_down() { mariadb_running && stop_pid MariaDB "$state/mariadb/mariadb.pid" 60 || true; }

apt_install() {
	log "installing $* from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# chromium_up: Debian's headless-capable Chromium, which the console's browser tests
# drive (chromedp finds it on PATH). Nothing runs: each test starts its own.
chromium_up() {
	command -v chromium >/dev/null || apt_install --no-install-recommends chromium
	log "chromium: $(chromium --version 2>/dev/null)"
}

kafka_fetch() {
	command -v java >/dev/null || apt_install openjdk-17-jre-headless
	maven_fetch "Apache Kafka $kafka_version jars" "$here/kafka/pom.xml" "$kafka_lib" \
		copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_lib"
}

# maven_fetch WHAT POM DIR GOAL ARGS...: run maven-dependency-plugin's GOAL on POM to
# fill DIR once; a DIR without its .complete mark (an interrupted fetch) is fetched anew.
maven_fetch() {
	local what=$1 pom=$2 dir=$3 goal=$4
	shift 4
	[ -f "$dir/.complete" ] && return
	command -v mvn >/dev/null || apt_install maven
	log "fetching $what from Maven Central into $dir"
	rm -rf "$dir"
	mvn -q -B -f "$pom" "dependency:$goal" "$@" >"$state/mvn.log" 2>&1 ||
		{ tail -20 "$state/mvn.log" >&2; die "mvn could not fetch $what (log: $state/mvn.log)"; }
	touch "$dir/.complete"
}

kafka_config() {
	local dir=$state/kafka
	mkdir -p "$dir" "$logs"
	cat >"$dir/server.properties.new" <<-EOF
		process.roles=broker,controller
		node.id=1
		controller.quorum.voters=1@127.0.0.1:$controller_port
		listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port,PROXIED://127.0.0.1:$proxied_port
		advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,PROXIED://127.0.0.1:$proxy_port
		controller.listener.names=CONTROLLER
		inter.broker.listener.name=PLAINTEXT
		listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT
		log.dirs=$dir/data
		num.partitions=4
		auto.create.topics.enable=false
		offsets.topic.replication.factor=1
		transaction.state.log.replication.factor=1
		transaction.state.log.min.isr=1
		share.coordinator.state.topic.replication.factor=1
		share.coordinator.state.topic.min.isr=1
		group.initial.rebalance.delay.ms=0
	EOF
	# A broker running with an older configuration is restarted, so `up` always leaves
	# the broker this script describes.
	if ! cmp -s "$dir/server.properties.new" "$dir/server.properties"; then
		if kafka_running; then
			log "Kafka configuration changed: restarting the broker"
			kafka_down
		fi
		mv "$dir/server.properties.new" "$dir/server.properties"
	else
		rm "$dir/server.properties.new"
	fi
	cat >"$dir/log4j2.properties" <<-EOF
		rootLogger.level=INFO
		rootLogger.appenderRef.file.ref=file
		appender.file.type=File
		appender.file.name=file
		appender.file.fileName=$logs/kafka.log
		appender.file.layout.type=PatternLayout
		appender.file.layout.pattern=[%d] %p %m (%c)%n
		logger.kafka.name=kafka
		logger.kafka.level=INFO
		logger.kraft.name=org.apache.kafka.raft
		logger.kraft.level=WARN
	EOF
}

kafka_java() {
	java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$state/kafka/log4j2.properties" \
		-cp "$kafka_lib/*" "$@"
}

kafka_start() {
	# exec in the subshell, so $! is the broker's own pid.
	(exec java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$state/kafka/log4j2.properties" \
		-cp "$kafka_lib/*" kafka.Kafka "$state/kafka/server.properties" >"$logs/kafka.out" 2>&1 </dev/null) &
	echo $! >"$state/kafka/pid"
	disown
}

kafka_running() { pid_running "$state/kafka/pid" kafka.Kafka; }

# pid_running PIDFILE PATTERN: the pid file names a live process whose command line has
# PATTERN. A pid file left by a killed process may name another that reuses its pid.
pid_running() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	grep -qa "$2" "/proc/$pid/cmdline" 2>/dev/null
}

# pid_alive: the process of pid file $1 exists. A start-up wait checks this rather than
# pid_running: the pid is first a subshell that has yet to exec the service, whose
# command line does not name it yet.
pid_alive() { kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ports NAME PIDFILE LOG PORT...: wait up to 30 s for a service just started to
# listen on every PORT, and fail with its log if its process exits first.
wait_ports() {
	local name=$1 pidfile=$2 logfile=$3 i p up
	shift 3
	for i in $(seq 1 60); do
		up=1
		for p in "$@"; do port_open "$p" || up=; done
		[ -n "$up" ] && return 0
		pid_alive "$pidfile" || { tail -n 30 "$logfile" >&2; die "$name exited (log: $logfile)"; }
		sleep 0.5
	done
	die "$name did not start within 30s (log: $logfile)"
}

kafka_up() {
	kafka_fetch
	kafka_config
	local dir=$state/kafka
	if [ ! -f "$dir/data/meta.properties" ]; then
		log "formatting Kafka storage in $dir/data"
		kafka_java kafka.tools.StorageTool format -t "$(kafka_java kafka.tools.StorageTool random-uuid)" \
			-c "$dir/server.properties" >"$logs/kafka-format.log" 2>&1 ||
			{ cat "$logs/kafka-format.log" >&2; die "Kafka storage format failed"; }
	fi
	if ! kafka_running; then
		log "starting Kafka $kafka_version on 127.0.0.1:$kafka_port"
		: >"$logs/kafka.log"
		kafka_start
	fi
	local i
	for i in $(seq 1 120); do
		if port_open "$kafka_port" && grep -q 'Kafka Server started' "$logs/kafka.log" 2>/dev/null; then
			return 0
		fi
		pid_alive "$state/kafka/pid" || { tail -n 30 "$logs/kafka.out" "$logs/kafka.log" >&2; die "Kafka exited (logs in $logs)"; }
		sleep 0.5
	done
	die "Kafka did not start within 60s (logs in $logs)"
}

kafka_down() { kafka_running && stop_pid Kafka "$state/kafka/pid" 30 || true; }

# stop_pid NAME PIDFILE SECONDS: SIGTERM the process, wait up to SECONDS for it to exit,
# then SIGKILL it.
stop_pid() {
	local pid
	pid=$(cat "$2")
	log "stopping $1 (pid $pid)"
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 $(($3 * 2))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
	kill -9 "$pid" 2>/dev/null || true
}

print_env() {
	echo "OUTBOX_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/outbox?sslmode=disable"
	echo "OUTBOX_MARIADB_URL=mysql://outbox@127.0.0.1:$mariadb_port/outbox"
	echo "OUTBOX_KAFKA_BROKERS=127.0.0.1:$kafka_port"
	echo "OUTBOX_KAFKA_PROXIED_LISTENER=127.0.0.1:$proxied_port"
	echo "OUTBOX_KAFKA_PROXY_ADDR=127.0.0.1:$proxy_port"
	jaeger_env
	prometheus_env
	cluster_env
	pgha_env
	registry_env
	interop_env
}

status() {
	local rc=0
	if port_open "$pg_port"; then echo "postgres: up   127.0.0.1:$pg_port"; else echo "postgres: down"; rc=1; fi
	if mariadb_running && port_open "$mariadb_port"; then echo "mariadb:  up   127.0.0.1:$mariadb_port"; else echo "mariadb:  down"; rc=1; fi
	if kafka_running && port_open "$kafka_port"; then echo "kafka:    up   127.0.0.1:$kafka_port"; else echo "kafka:    down"; rc=1; fi
	if jaeger_running; then echo "jaeger:   up   127.0.0.1:$jaeger_query_port (query), :$jaeger_otlp_port (OTLP)"; else echo "jaeger:   down (optional: up jaeger)"; fi
	if prometheus_running; then echo "prometheus: up 127.0.0.1:$prometheus_port"; else echo "prometheus: down (optional: up prometheus)"; fi
	cluster_status
	pgha_status
	registry_status
	echo "logs:     $logs"
	return $rc
}

# reserve_ports keeps the services' ports out of the kernel's ephemeral range, where
# they all lie (32768-60999): an outgoing connection that happened to take one could
# keep a restarted service from binding it. Seen in a CI simulation: Kafka, restarted
# by the chaos suite, failed with "failed to bind to 127.0.0.1:59094: Address already in
# use". Only as root (net.ipv4.ip_local_reserved_ports); the kernel merges the list.
reserve_ports() {
	local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur
	[ -w "$f" ] || return 0
	cur=$(cat "$f")
	echo "${cur:+$cur,}$pg_port,$mariadb_port,$kafka_port-$proxy_port,$jaeger_query_port,$jaeger_otlp_port,$prometheus_port,$registry_port-$registry_mgmt_port" >"$f" ||
		log "could not reserve the services' ports in $f"
}

case "${1:-}" in
up)
	start=$SECONDS
	reserve_ports
	pg_up
	mariadb_up
	kafka_up
	for extra in "${@:2}"; do
		case $extra in
		jaeger) jaeger_up ;;
		prometheus) prometheus_up ;;
		kafka-cluster) cluster_up ;;
		pg-ha) pgha_up ;;
		chromium) chromium_up ;;
		registry) registry_up ;;
		interop) interop_up ;;
		*) die "unknown service $extra: the optional ones are jaeger, prometheus, kafka-cluster, pg-ha, chromium, registry and interop" ;;
		esac
	done
	log "services up in $((SECONDS - start))s"
	print_env
	;;
down)
	registry_down
	pgha_down
	cluster_down
	prometheus_down
	jaeger_down
	kafka_down
	mariadb_down
	pg_down
	;;
partition | heal)
	[ "${2:-}" = kafka-cluster ] || die "$1: only kafka-cluster can be $1ed ($1 kafka-cluster${3:+ $3})"
	if [ "$1" = partition ]; then cluster_partition "${3:-}"; else cluster_heal; fi
	;;
failover | rejoin | switchover | replication | slotsync | upstream)
	[ "${2:-}" = pg-ha ] || die "$1: only pg-ha has a $1 ($1 pg-ha)"
	pgha_"$1" "${3:-}"
	;;
status) status ;;
env) print_env ;;
*)
	echo "usage: $0 up [jaeger] [prometheus] [kafka-cluster] [pg-ha] [chromium] [registry] [interop]|down|status|env|partition kafka-cluster N|heal kafka-cluster|failover pg-ha|rejoin pg-ha|switchover pg-ha|replication pg-ha sync|async|slotsync pg-ha on|off|upstream pg-ha HOST:PORT" >&2
	exit 2
	;;
esac
