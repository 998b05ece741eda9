# A three-node Apache Kafka cluster (KRaft, each node broker and controller) for the
# cluster fault scenarios of the chaos suite: sourced by services.sh, started only on
# demand (`services.sh up kafka-cluster`). The single broker stays the default for the
# demo and the fast tests. Same jars as the single broker; each node has its own ports,
# data directory, log and pid file, so a test can kill one node and `up kafka-cluster`
# starts just that one again.
#
# Topics get replication factor 3 and min.insync.replicas=2 by default; unclean leader
# election stays off, so a replica that missed acknowledged writes never becomes leader.
#
# A network partition: `services.sh partition kafka-cluster N` cuts node N off from its
# clients and from the other two nodes, `services.sh heal kafka-cluster` ends it. On
# loopback one advertised address per listener cannot tell who connects, so a proxy in
# front of each node could cut clients off but not the node's own connections to the
# others; a packet filter can. Run as root, each node runs under a user id of its own,
# and an nftables table (outbox_kafka_cluster, from Debian's nftables) drops every packet
# node N's sockets send and every packet sent to its ports: nothing reaches it or leaves
# it, its own loopback traffic included, until the table is deleted. `up kafka-cluster`
# and `down` heal a partition left behind.
#
# Environment (defaults in brackets):
#   OUTBOX_KAFKA_CLUSTER_PORT  node 1's client port  [29310]; node N: +10*(N-1); controller: +1
# (below the ephemeral range, 32768 and up, where a node starting late could find its
# port taken by another's outgoing connection)
#   OUTBOX_KAFKA_CLUSTER_UID   node N's user id, run as root: this + N  [29300]

cluster_port=${OUTBOX_KAFKA_CLUSTER_PORT:-29310}
cluster_uid_base=${OUTBOX_KAFKA_CLUSTER_UID:-29300}
cluster_dir=$state/kafka-cluster
cluster_nft_table=outbox_kafka_cluster

cluster_node_port() { echo $((cluster_port + 10 * ($1 - 1))); }

cluster_voters() {
	local n out=
	for n in 1 2 3; do out+="${out:+,}$n@127.0.0.1:$(($(cluster_node_port "$n") + 1))"; done
	echo "$out"
}

cluster_brokers() {
	local n out=
	for n in 1 2 3; do out+="${out:+,}127.0.0.1:$(cluster_node_port "$n")"; done
	echo "$out"
}

# cluster_config N writes node N's server.properties and log4j2.properties.
cluster_config() {
	local n=$1 port dir
	port=$(cluster_node_port "$n")
	dir=$cluster_dir/node$n
	mkdir -p "$dir" "$logs"
	cat >"$dir/server.properties.new" <<-EOF
		process.roles=broker,controller
		node.id=$n
		controller.quorum.voters=$(cluster_voters)
		listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
		advertised.listeners=PLAINTEXT://127.0.0.1:$port
		controller.listener.names=CONTROLLER
		inter.broker.listener.name=PLAINTEXT
		listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
		log.dirs=$dir/data
		num.partitions=8
		default.replication.factor=3
		min.insync.replicas=2
		unclean.leader.election.enable=false
		auto.create.topics.enable=false
		offsets.topic.replication.factor=3
		transaction.state.log.replication.factor=3
		transaction.state.log.min.isr=2
		share.coordinator.state.topic.replication.factor=3
		share.coordinator.state.topic.min.isr=2
		group.initial.rebalance.delay.ms=0
		replica.lag.time.max.ms=10000
	EOF
	if ! cmp -s "$dir/server.properties.new" "$dir/server.properties"; then
		if cluster_node_running "$n"; then
			log "Kafka cluster node $n: configuration changed, restarting it"
			cluster_node_down "$n"
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
		appender.file.fileName=$logs/kafka-cluster-$n.log
		appender.file.layout.type=PatternLayout
		appender.file.layout.pattern=[%d] %p %m (%c)%n
		logger.kraft.name=org.apache.kafka.raft
		logger.kraft.level=WARN
	EOF
}

cluster_node_running() { pid_running "$cluster_dir/node$1/pid" "$cluster_dir/node$1/server.properties"; }

# cluster_lib is the jars' directory the nodes can read: the cache under $HOME may be
# closed to the nodes' own user ids, so as root they get hard links (or copies) in the
# state directory, made once per Kafka version.
cluster_lib() {
	[ "$(id -u)" = 0 ] || { echo "$kafka_lib"; return; }
	local lib=$cluster_dir/kafka-$kafka_version-lib
	if [ ! -f "$lib/.complete" ]; then
		rm -rf "$lib"
		cp -al "$kafka_lib" "$lib" 2>/dev/null || cp -a "$kafka_lib" "$lib"
		chmod -R a+rX "$lib"
		: >"$lib/.complete"
	fi
	echo "$lib"
}

# cluster_uid N: the user id node N runs as; empty when not root (nodes then run as the
# caller, and cannot be partitioned).
cluster_uid() { [ "$(id -u)" = 0 ] && echo $((cluster_uid_base + $1)) || true; }

cluster_node_start() {
	local n=$1 dir=$cluster_dir/node$1 uid as=() lib
	: >"$logs/kafka-cluster-$n.log"
	lib=$(cluster_lib)
	uid=$(cluster_uid "$n")
	if [ -n "$uid" ]; then
		chown -R "$uid:$uid" "$dir" "$logs/kafka-cluster-$n.log"
		as=(setpriv --reuid="$uid" --regid="$uid" --clear-groups --)
	fi
	(exec "${as[@]}" java -XX:-UsePerfData -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" \
		-cp "$lib/*" kafka.Kafka "$dir/server.properties" >"$logs/kafka-cluster-$n.out" 2>&1 </dev/null) &
	echo $! >"$dir/pid"
	disown
}

cluster_up() {
	kafka_fetch
	cluster_heal
	mkdir -p "$cluster_dir"
	[ -f "$cluster_dir/cluster.id" ] || kafka_java kafka.tools.StorageTool random-uuid >"$cluster_dir/cluster.id"
	local n started=
	for n in 1 2 3; do
		cluster_config "$n"
		if [ ! -f "$cluster_dir/node$n/data/meta.properties" ]; then
			kafka_java kafka.tools.StorageTool format -t "$(cat "$cluster_dir/cluster.id")" \
				-c "$cluster_dir/node$n/server.properties" >"$logs/kafka-cluster-format.log" 2>&1 ||
				{ cat "$logs/kafka-cluster-format.log" >&2; die "Kafka cluster node $n: storage format failed"; }
		fi
		if ! cluster_node_running "$n"; then
			log "starting Kafka cluster node $n on 127.0.0.1:$(cluster_node_port "$n")"
			cluster_node_start "$n"
			started+=" $n"
		fi
	done
	# A node is up once it says so; the three need each other's votes, so wait for all.
	local i
	for i in $(seq 1 180); do
		local up=1
		for n in $started; do
			grep -q 'Kafka Server started' "$logs/kafka-cluster-$n.log" 2>/dev/null || up=
			pid_alive "$cluster_dir/node$n/pid" ||
				{ tail -n 30 "$logs/kafka-cluster-$n.out" "$logs/kafka-cluster-$n.log" >&2; die "Kafka cluster node $n exited"; }
		done
		[ -n "$up" ] && return 0
		sleep 0.5
	done
	die "Kafka cluster nodes$started did not start within 90s (logs: $logs/kafka-cluster-*.log)"
}

cluster_node_down() { cluster_node_running "$1" && stop_pid "Kafka cluster node $1" "$cluster_dir/node$1/pid" 30 || true; }

cluster_down() {
	local n
	cluster_heal
	for n in 1 2 3; do cluster_node_down "$n"; done
}

# cluster_partition N cuts node N off (see the top of this file).
cluster_partition() {
	local n=${1:-} port uid
	case $n in 1 | 2 | 3) ;; *) die "partition kafka-cluster N: N is the node, 1, 2 or 3 (got '$n')" ;; esac
	uid=$(cluster_uid "$n")
	[ -n "$uid" ] || die "partition kafka-cluster needs root: the nodes run under user ids of their own only then"
	cluster_node_running "$n" || die "Kafka cluster node $n is not running: up kafka-cluster first"
	[ "$(stat -c %u "/proc/$(cat "$cluster_dir/node$n/pid")")" = "$uid" ] ||
		die "Kafka cluster node $n does not run as user $uid: down, then up kafka-cluster again"
	command -v nft >/dev/null || apt_install nftables
	port=$(cluster_node_port "$n")
	cluster_heal
	log "cutting Kafka cluster node $n off: packets of user $uid and to ports $port,$((port + 1)) dropped"
	nft -f - <<-EOF || die "nft could not add table $cluster_nft_table (is CAP_NET_ADMIN missing?)"
		table inet $cluster_nft_table {
			chain output {
				type filter hook output priority 0; policy accept;
				meta skuid $uid drop
				tcp dport { $port, $((port + 1)) } drop
				tcp sport { $port, $((port + 1)) } drop
			}
		}
	EOF
}

# cluster_heal ends a partition, if there is one.
cluster_heal() {
	command -v nft >/dev/null || return 0
	if nft list table inet "$cluster_nft_table" >/dev/null 2>&1; then
		log "healing the Kafka cluster's partition"
		nft delete table inet "$cluster_nft_table"
	fi
}

cluster_env() { echo "OUTBOX_KAFKA_CLUSTER=$(cluster_brokers)"; }

cluster_status() {
	local n line=
	for n in 1 2 3; do
		if cluster_node_running "$n"; then line+=" $n:up"; else line+=" $n:down"; fi
	done
	if command -v nft >/dev/null && nft list table inet "$cluster_nft_table" >/dev/null 2>&1; then line+=" (partitioned)"; fi
	echo "kafka cluster:$line (optional: up kafka-cluster; $(cluster_brokers))"
}
