# Tollgate — make help lists the targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
BIN     := bin
DEMO    := .demo
FUZZTIME ?= 10s
BENCHCOUNT ?= 5
# Micro-benchmarks run BENCHCOUNT times (the table shows medians); the
# end-to-end ones (broker round trips, 100k-license ledgers, a 1,000-child
# bridge) run once with their own sizes.
MICROBENCH := ./shared/... ./agent/internal/gate ./agent/internal/effclock

# The sync benchmarks on PostgreSQL (one server, two replicas over one
# database) run a fixed number of syncs, when PostgreSQL answers on the
# test server's address (docs/deploy.md, "Throughput").
PGBENCH      := SyncPostgres
PGBENCHSYNCS ?= 3000
PGBENCHHOST  ?= 127.0.0.1
PGBENCHPORT  ?= 5432

.PHONY: help build test test-postgres bench fuzz certs run clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $$($(GO) list ./.../cmd/... )

# The ledger and API suites run a second time with the ledger on PostgreSQL
# (127.0.0.1:5432; a throwaway schema per test, docs/deploy.md), alongside
# the race run: most of their time is waiting on the database.
PGSUITES := ./server/internal/ledger ./server/internal/api

test: ## gofmt check, go vet, go test -race ./... and the ledger and API suites on PostgreSQL
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@scripts/need-mosquitto.sh
	@scripts/need-chromium.sh
	@pglog=$$(mktemp); \
	  TOLLGATE_TEST_STORE=postgres $(GO) test -timeout 9m $(PGSUITES) >$$pglog 2>&1 & pg=$$!; \
	  rc=0; $(GO) test -race -timeout 9m ./... || rc=$$?; \
	  pgrc=0; wait $$pg || pgrc=$$?; \
	  echo "--- the ledger and API suites on PostgreSQL (TOLLGATE_TEST_STORE=postgres):"; cat $$pglog; rm -f $$pglog; \
	  if [ $$pgrc -ne 0 ]; then rc=$$pgrc; fi; exit $$rc

test-postgres: ## only the ledger and API suites on PostgreSQL (what make test runs beside the race run)
	TOLLGATE_TEST_STORE=postgres $(GO) test -timeout 9m $(PGSUITES)

bench: ## run the benchmarks and print the table with the speed-target ratios
	@rm -f bench.txt
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(MICROBENCH) | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'PublishThroughput' -benchtime 3x ./agent/internal/runtime | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'IngestSubmit' -benchmem ./agent/internal/runtime | tee -a bench.txt
	$(GO) test -run '^$$' -bench BridgeRSS -benchtime 1x ./agent/internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench . -skip '$(PGBENCH)' -benchmem ./server/... | tee -a bench.txt
	@if (exec 3<>/dev/tcp/$(PGBENCHHOST)/$(PGBENCHPORT)) 2>/dev/null; then \
	  $(GO) test -run '^$$' -bench '$(PGBENCH)' -benchtime $(PGBENCHSYNCS)x -benchmem ./server/internal/api | tee -a bench.txt; \
	else echo "bench: PostgreSQL is not reachable at $(PGBENCHHOST):$(PGBENCHPORT): skipping $(PGBENCH) in server/internal/api (start it, or point PGBENCHHOST, PGBENCHPORT and TOLLGATE_TEST_POSTGRES at one)"; fi
	@echo
	@$(GO) run ./tools/benchratio < bench.txt

fuzz: ## run every fuzz target briefly (FUZZTIME=10s each)
	@scripts/fuzz.sh $(FUZZTIME)

certs: ## create the development CA and certificates in certs/dev (idempotent)
	$(GO) run ./certs/cmd/tollgate-certs -out certs/dev

run: build certs ## the demo: license server, a fleet of agents and firmware-sim over 5 simulated days (see README)
	@scripts/run-demo.sh

clean: ## remove build output and demo data
	rm -rf $(BIN) $(DEMO) bench.txt
