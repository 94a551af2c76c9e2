# Strom — build, run, test, benchmark and fuzz every module of the workspace.
#
#   make run    build and start one broker on localhost:9092 (embedded mode)
#   make cluster  a 3-node ZooKeeper ensemble and 3 brokers on localhost
#   make test   install missing test dependencies, then run every test

SHELL   := /bin/bash
MODULES := engine net replication coord tools benchmarks fuzz
BIN     := $(CURDIR)/bin
GO      ?= go
# Go test flags shared by every module; -race is on everywhere because every
# module has concurrent code (segments, servers, coordinators).
TESTFLAGS ?= -race -count=1 -timeout 15m
BENCHTIME ?= 1s
FUZZTIME  ?= 30s

.PHONY: all build run cluster test test-deps test-go bench bench-check fuzz lint clean engine-faults chaos sim-soak
.PHONY: machine-crash chaos-plants

all: build

build:
	@mkdir -p $(BIN)
	@if [ -d tools/cmd/strom ]; then cd tools && $(GO) build -o $(BIN)/strom ./cmd/strom; fi
	@if [ -d tools/scripts ]; then cp tools/scripts/*.sh $(BIN)/ 2>/dev/null || true; fi

run: build
	$(BIN)/strom server config/server.properties

# cluster starts a local cluster: a 3-node ZooKeeper ensemble (Debian's
# zookeeper package, installed if missing) and brokers 0-2 from config/,
# with every log prefixed; Ctrl-C stops everything.
cluster:
	@scripts/cluster.sh

# test-deps installs what the compatibility and cluster tests need and is
# missing: Debian packages (zookeeper, kcat, python3-kafka) and npm packages
# into .deps/node (kafkajs). Safe to run again; it skips what is present.
test-deps:
	@scripts/test-deps.sh

test: test-deps test-go

test-go:
	@TESTFLAGS="$(TESTFLAGS)" scripts/test-go.sh $(MODULES)

# bench runs the tracked suite (benchmarks/bench.sh full): writes
# benchmarks/results/<date>-<rev>.txt (benchstat format) and
# benchmarks/results/latest.svg. BENCH_ALL=1 also runs every module's own
# benchmarks for BENCHTIME each (not tracked).
bench:
	@GO=$(GO) benchmarks/bench.sh full
	@if [ -n "$(BENCH_ALL)" ]; then set -e; for m in $(MODULES); do \
		(cd $$m && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./...); \
	done; fi

# bench-check is the CI gate: a short run of the gated benchmarks checked
# against benchmarks/targets.txt (floors) and the newest tracked result
# (regression tolerance). Only ratios measured in the same run are compared.
bench-check:
	@GO=$(GO) benchmarks/bench.sh check

# fuzz runs every Fuzz target of the fuzz and engine modules for FUZZTIME each.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

# engine-faults fails every file-system call site of the engine's
# randomized workload in turn, for FAULT_SEEDS seeds (make test runs one
# seed and a few sites per kind); see engine/partlog/faults_test.go.
FAULT_SEEDS ?= 3
engine-faults:
	set -o pipefail; cd engine && FAULT_SEEDS=$(FAULT_SEEDS) FAULT_STRIDE=1 $(GO) test -count=1 -timeout 60m -run 'TestFaultInjection$$|TestCleanWithInjectedFaults$$' -v ./partlog/ ./cleaner/ | grep -v -e '^=== ' -e '^    --- PASS' -e 'did not surface'

# chaos runs the fault bed (tools/faultbed) for DURATION with SEED (default:
# the time): 3 brokers on a 3-node ZooKeeper ensemble, random faults every
# few seconds, then heal, final reads and Jepsen's checks. The history,
# nemesis log and report of each run go to CHAOS_OUT/<time>-seed-<seed>/.
# make test runs a 2-minute version (TestShortRun).
DURATION  ?= 5m
SEED      ?=
CHAOS_OUT ?= /tmp/strom-chaos
chaos: test-deps
	set -o pipefail; cd tools && FAULTBED_DURATION=$(DURATION) FAULTBED_SEED=$(SEED) FAULTBED_OUT=$(CHAOS_OUT) \
		$(GO) test -count=1 -timeout 0 -run '^TestChaos$$' -v ./faultbed/ 2>&1 | grep -v -e '^        time=' -e '^=== '

# machine-crash measures what a simultaneous crash of every broker's
# machine (kill -9 + every unsynced write dropped, tools/faultbed/lazyfs)
# loses on an RF 3, min.insync.replicas=2, acks=all topic: TRIALS trials
# with Kafka's default (no fsync) and TRIALS with durable.acks.enable
# (which must lose nothing); one MACHINE-CRASH line per trial.
TRIALS ?= 5
machine-crash: test-deps
	set -o pipefail; cd tools && STROM_MACHINE_CRASH_TRIALS=$(TRIALS) $(GO) test -count=1 -timeout 60m \
		-run '^TestDefaultAcksMachineCrash$$' -v ./clustertest/ 2>&1 | grep -e MACHINE-CRASH -e '^---' -e '^ok' -e FAIL

# sim-soak runs the replication simulator (replication/sim) long: with
# SEEDS=n, seeds 1..n of every configuration (make test runs 300 each);
# otherwise seeds from 1,000,000 on for DURATION. A failure prints the seed
# and configuration to replay (SIM_TRACE=<seed> SIM_CONFIG=<name> go test
# -run TestTraceSeed -v ./sim/ in replication).
SEEDS ?=
sim-soak:
	set -o pipefail; cd replication && if [ -n "$(SEEDS)" ]; then \
		SIM_SEEDS=$(SEEDS) $(GO) test -count=1 -timeout 0 -run '^TestSeededRuns$$' -v ./sim/; \
	else \
		SIM_DURATION=$(DURATION) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./sim/; \
	fi 2>&1 | grep -v '^=== '

# chaos-plants runs the fault bed against strom test builds with planted
# bugs (replication/plant.go) and requires lost writes from each: the
# checker can fail. Minutes.
chaos-plants: test-deps
	set -o pipefail; cd tools && FAULTBED_PLANTS=1 \
		$(GO) test -count=1 -timeout 0 -run '^TestPlantedBugs$$' -v ./faultbed/ 2>&1 | grep -v -e '^        time=' -e '^=== '

lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

clean:
	rm -rf $(BIN)
