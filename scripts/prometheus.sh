# Prometheus from Debian's package, for the metrics tests: sourced by services.sh,
# started only on demand (`services.sh up prometheus`), in a data directory of its own
# (not the system service). It scrapes every second the targets that tests write as
# file_sd JSON files into $state/prometheus/targets, and evaluates the repository's alert
# rules (deploy/prometheus/outbox-alerts.yml) every second.
#
# Environment (defaults in brackets):
#   OUTBOX_PROMETHEUS_PORT  web UI and API  [59090]

prometheus_port=${OUTBOX_PROMETHEUS_PORT:-59090}

prometheus_running() { pid_running "$state/prometheus/pid" prometheus; }

prometheus_config() {
	local dir=$state/prometheus
	mkdir -p "$dir/targets" "$dir/data" "$logs"
	cat >"$dir/prometheus.yml" <<-EOF2
		global:
		  scrape_interval: 1s
		  evaluation_interval: 1s
		rule_files:
		  - $here/../deploy/prometheus/outbox-alerts.yml
		scrape_configs:
		  - job_name: outbox
		    file_sd_configs:
		      - files: ['$dir/targets/*.json']
		        refresh_interval: 1s
	EOF2
}

prometheus_up() {
	command -v prometheus >/dev/null || apt_install prometheus
	prometheus_config
	if ! prometheus_running; then
		log "starting Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}') on 127.0.0.1:$prometheus_port"
		(exec prometheus --config.file="$state/prometheus/prometheus.yml" --storage.tsdb.path="$state/prometheus/data" \
			--web.listen-address="127.0.0.1:$prometheus_port" --storage.tsdb.retention.time=1d \
			>"$logs/prometheus.log" 2>&1 </dev/null) &
		echo $! >"$state/prometheus/pid"
		disown
	else
		kill -HUP "$(cat "$state/prometheus/pid")" # reload the configuration and the rules
	fi
	wait_ports Prometheus "$state/prometheus/pid" "$logs/prometheus.log" "$prometheus_port"
}

prometheus_down() { prometheus_running && stop_pid Prometheus "$state/prometheus/pid" 10 || true; }

prometheus_env() {
	echo "OUTBOX_PROMETHEUS_URL=http://127.0.0.1:$prometheus_port"
	echo "OUTBOX_PROMETHEUS_TARGETS=$state/prometheus/targets"
}
