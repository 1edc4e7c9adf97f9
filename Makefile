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

.PHONY: help build test test-postgres bench fuzz certs run clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $$($(GO) list ./.../cmd/... )

test: ## gofmt check, go vet, go test -race ./... (unit, integration and end-to-end)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@scripts/need-mosquitto.sh
	@scripts/need-chromium.sh
	$(GO) test -race -timeout 9m ./...

test-postgres: ## the ledger and API suites again with the ledger on PostgreSQL (127.0.0.1:5432, a throwaway database per test; docs/deploy.md)
	TOLLGATE_TEST_STORE=postgres $(GO) test -timeout 15m ./server/internal/ledger ./server/internal/api

bench: ## run the benchmarks and print the table with the speed-target ratios
	@rm -f bench.txt
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(MICROBENCH) | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'PublishThroughput' -benchtime 3x ./agent/internal/runtime | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'IngestSubmit' -benchmem ./agent/internal/runtime | tee -a bench.txt
	$(GO) test -run '^$$' -bench BridgeRSS -benchtime 1x ./agent/internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench . -benchmem ./server/... | tee -a bench.txt
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
