# pilot: a pilot-job scheduler for HPC allocations. `make help` lists targets.
SHELL   := /bin/bash
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN     := bin/pilot
LDFLAGS := -X main.version=$(VERSION)
PKGS    := ./...

.DEFAULT_GOAL := help

help: ## list the targets and what they do
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the one binary into bin/pilot
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/pilot

test: build ## go vet, then every test with -race (what CI runs)
	$(GO) vet $(PKGS)
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)

race: ## the tests with -race, repeated 3 times to shake out flakes
	$(GO) test -race -count=3 -timeout 30m $(PKGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fuzz: ## run every fuzz target briefly (FUZZTIME=10s each)
	@scripts/fuzz.sh $${FUZZTIME:-10s}

bench: build ## the benchmarks: ledger, scheduler, queue server, end to end
	@scripts/bench.sh

bench-peers: build ## pilot beside Work Queue, Dask, tsp, parallel, xargs -P (installs them; QUICK=1: minutes)
	@scripts/bench-peers.sh

sim: build ## simulate 100k tasks under both policies on both workloads
	@scripts/sim.sh

demo: build ## the main job on its embedded default: a local 3-agent cluster works examples/shifts.jsonl
	@scripts/demo.sh

chaos: build ## fault injection: kill -9, SIGSTOP, drains, flush, outages, bad input (CHAOS_RUNS, CHAOS_MINUTES, CHAOS_SEED)
	@scripts/chaos.sh

slurm-up: ## bring up a real N-node Slurm in network namespaces (root; SLURM_TEST_NODES=4)
	@scripts/ci/install-slurm.sh
	@scripts/slurm/cluster-up.sh

slurm-down: ## tear the test Slurm cluster down, leaving nothing behind
	@scripts/slurm/cluster-down.sh

clean: ## remove build outputs
	rm -rf bin

.PHONY: help build test race lint fuzz bench bench-peers sim demo chaos clean slurm-up slurm-down
