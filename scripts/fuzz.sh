#!/usr/bin/env bash
# Runs every native Go fuzz target in the workspace for $1 (default 30s)
# each, one after another (the fuzzer uses every core for one target).
#
# FUZZMINIMIZETIME (default 5s) bounds how long a worker minimizes each new
# interesting input; Go's default of 60s lets slow targets (partition
# recovery writes files) spend their whole budget minimizing.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
minimize=${FUZZMINIMIZETIME:-5s}
failed=()
count() { { ls "$1" 2>/dev/null || true; } | wc -l; } # files in a corpus dir
for m in engine net fuzz; do
	[ -d "$m" ] || continue
	for pkg in $(cd "$m" && go list ./...); do
		dir=$(cd "$m" && go list -f '{{.Dir}}' "$pkg")
		targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' || true)
		for t in $targets; do
			echo "== fuzz $pkg $t ($fuzztime)"
			corpus="$dir/testdata/fuzz/$t"
			before=$(count "$corpus")
			log=$(mktemp)
			if ! (cd "$m" && go test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg") 2>&1 | tee "$log"; then
				# Go's fuzzer sometimes fails with "context deadline
				# exceeded" when -fuzztime ends mid-run; without a new
				# input in the corpus that is not a finding.
				if [ "$(count "$corpus")" -eq "$before" ] && grep -q 'context deadline exceeded' "$log"; then
					echo "fuzz: $t stopped at the deadline without a new input (Go fuzzer quirk), not a finding"
				else
					failed+=("$t")
				fi
			fi
			rm -f "$log"
		done
	done
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failing targets: ${failed[*]}"
	exit 1
fi
echo "fuzz: every target passed"
