#!/usr/bin/env bash
# bench.sh runs the tracked benchmark suite (see README.md).
#
#   bench.sh full    the whole suite; writes results/<date>-<rev>.txt and
#                    results/latest.svg (make bench)
#   bench.sh check   the gated benchmarks, short; compares them with
#                    targets.txt and the newest tracked result and fails on
#                    a floor miss or a regression (make bench-check)
#
# The engine, codec and raw benchmarks are cheap per iteration and run for
# a time; the end-to-end ones run a fixed number of rounds (-benchtime Nx),
# each round being a fixed amount of work per system.
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
mode=${1:-full}
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# A run of uncommitted code says so in its name and header.
if ! git diff --quiet HEAD -- .. 2>/dev/null; then rev="$rev-dirty"; fi

header() {
	echo "commit: $rev"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "mode: $mode"
}

gobench() { # <regexp> <benchtime> <count>
	$GO test -run '^$' -bench "$1" -benchtime "$2" -count "$3" -timeout 30m .
}

case "$mode" in
full)
	mkdir -p results
	out="results/$(date -u +%Y-%m-%d-%H%M)-$rev.txt" # sorts by time
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	{
		header
		gobench '^Benchmark(Engine|Codec|Raw)' 1s 5
		gobench '^Benchmark(Produce|Consume|Latency|ManyPartitions|LargeRecords)$' 3x 3
		gobench '^BenchmarkCluster$' 1x 1
		gobench '^BenchmarkReplication$' 1x 1
	} | tee "$tmp"
	mv "$tmp" "$out"
	$GO run ./cmd/benchplot -o results/latest.svg "$out"
	echo "wrote $out and results/latest.svg"
	;;
check)
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	{
		header
		# The engine runs last: right after `make test` the disk is still
		# busy with the test suite's deleted files, which lands in the
		# engine's append-vs-write timings more than in the end-to-end ones.
		gobench '^BenchmarkProduce$/^record=100B$/^acks=(1|all)$/^partitions=1$' 1x 7
		gobench '^BenchmarkConsume$/^record=100B$/^partitions=1$' 1x 7
		gobench '^Benchmark(Latency|LargeRecords)$' 1x 7
		gobench '^BenchmarkManyPartitions$' 1x 3
		gobench '^BenchmarkEngine' 0.5s 5
	} | tee "$tmp"
	$GO run ./cmd/benchcheck -targets targets.txt -tracked results "$tmp"
	;;
*)
	echo "usage: bench.sh full|check" >&2
	exit 2
	;;
esac
