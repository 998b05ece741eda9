# go-outbox: every target that needs PostgreSQL or Kafka starts them first (idempotent).
SHELL := /bin/bash
SERVICES := scripts/services.sh
ENV = eval "$$($(SERVICES) env | sed 's/^/export /')"

.PHONY: test demo bench chaos services services-down status check fuzz

## test: start the services (Jaeger and Prometheus too, for the tracing and metrics tests; Jaeger is
## built once, a few minutes; the PostgreSQL 17 primary and standby for the failover tests; Debian's
## Chromium for the console's browser tests; Apicurio Registry and the Java interop check's jars
## for the schema tests), then gofmt, go vet, every test (integration included) with the race detector, the conformance suite and the
## WAL-mode tests again on PostgreSQL 17, and last the short form of the fault-injection suite (it
## restarts the services, so alone)
PG17_TESTS := TestConformance$$|TestConformancePostgreSQL|WAL|Slot|Stream
test: check
	$(SERVICES) up jaeger prometheus pg-ha chromium registry interop
	$(ENV) && go test -race -count=1 -timeout 20m ./...
	$(ENV) && OUTBOX_DATABASE_URL="$$OUTBOX_PG_HA_URL" go test -race -count=1 -timeout 10m -run '$(PG17_TESTS)' ./outboxpgx ./outboxsql ./relay
	$(ENV) && go test -tags chaos -short -count=1 -p 1 -v -timeout 20m ./cmd/internal/chaos

## demo: start the services, migrate, run the orders example (its relay, and an inventory service consuming
## the orders through the inbox and emitting its own events) and print the chain
demo: services
	$(ENV) && go run ./cmd/outbox migrate && go run ./examples/orders --demo

## bench: start the services, run every scenario of outbox-bench (its own binary; it starts outbox
## relay processes) on each database of BENCH_DBS, then Watermill's forwarder (bench/watermill, its
## own module) on the same PostgreSQL, and print the tables (BENCHFLAGS, WMFLAGS to adjust). Apicurio
## Registry too, for the formats scenario's Avro, Protobuf and JSON Schema rows.
## PostgreSQL is measured in both modes, table then WAL, in the same run.
BENCH_DBS ?= postgres mariadb sqlite
bench: services
	$(SERVICES) up registry
	go build -o bin/outbox ./cmd/outbox && go build -o bin/outbox-bench ./cmd/outbox-bench
	$(ENV) && for db in $(BENCH_DBS); do \
		mode=table; case $$db in postgres) url=$$OUTBOX_DATABASE_URL mode=table,wal;; mariadb) url=$$OUTBOX_MARIADB_URL;; sqlite) url=sqlite:$(CURDIR)/bin/bench.db;; esac; \
		bin/outbox-bench --database-url "$$url" --mode $$mode --report bin/bench-$$db.json $(BENCHFLAGS) || exit 1; done
	$(ENV) && if [ -f bin/bench-postgres.json ]; then cd bench/watermill && go run . --outbox-report ../../bin/bench-postgres.json $(WMFLAGS); fi

## chaos: the full fault-injection suite (cmd/internal/chaos; OUTBOX_CHAOS_RUNS runs per scenario, default 3;
## OUTBOX_CHAOS_SEED to replay, OUTBOX_CHAOS_DBS to pick databases, OUTBOX_CHAOS_KEEP to keep logs): writers, relays and verifier as processes, relays killed, Kafka stopped
## and killed, PostgreSQL restarted and out of space, network faults, inbox consumers killed, PostgreSQL 17
## failovers and switchovers (pg-ha); prints one RESULT line per run
chaos: services
	$(SERVICES) up pg-ha
	mkdir -p bin && $(ENV) && go test -tags chaos -count=1 -p 1 -v -timeout 90m ./cmd/internal/chaos 2>&1 | tee bin/chaos.log | grep -E '^(=== RUN|--- |\s+--- |ok|FAIL|panic)|RESULT|SEED|refused'; exit $${PIPESTATUS[0]}

## check: formatting, vet, and the exported API against the last release tag (apidiff; once
## there is a tag, it fails on an incompatible change that CHANGELOG.md does not list as
## breaking); no services needed
check:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags chaos ./cmd/internal/chaos
	scripts/apidiff.sh

## fuzz: run each fuzz target for a while (FUZZTIME, default 30s)
FUZZTIME ?= 30s
fuzz:
	go test -run XXX -fuzz FuzzValidateTopic -fuzztime $(FUZZTIME) .
	go test -run XXX -fuzz FuzzNames -fuzztime $(FUZZTIME) ./internal/dialect/postgres
	go test -run XXX -fuzz FuzzLSN -fuzztime $(FUZZTIME) ./internal/dialect/postgres
	go test -run XXX -fuzz FuzzBrokers -fuzztime $(FUZZTIME) ./cmd/internal/envflag
	go test -run XXX -fuzz FuzzRelayFlags -fuzztime $(FUZZTIME) ./cmd/outbox
	go test -run XXX -fuzz FuzzDecodeHeaders -fuzztime $(FUZZTIME) ./internal/sqldb
	go test -run XXX -fuzz FuzzConfig -fuzztime $(FUZZTIME) ./relay
	go test -run XXX -fuzz FuzzNewMessage -fuzztime $(FUZZTIME) .
	go test -run XXX -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./internal/walenvelope
	go test -run XXX -fuzz FuzzProgress -fuzztime $(FUZZTIME) ./relay
	go test -run XXX -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./outboxschema
	go test -run XXX -fuzz FuzzOutboxEventID -fuzztime $(FUZZTIME) ./inbox

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

status:
	$(SERVICES) status
