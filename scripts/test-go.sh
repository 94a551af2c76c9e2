#!/usr/bin/env bash
# Runs `go test $TESTFLAGS ./...` in every module given as an argument,
# keeps going after a failing module, and ends with one summary line
# ("packages: N passed, M failed") and a non-zero exit if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
for m in "$@"; do
	echo "== go test $m"
	# shellcheck disable=SC2086
	(cd "$m" && go test ${TESTFLAGS:-} ./...) 2>&1 | tee -a "$out" || status=1
done
passed=$(grep -c '^ok ' "$out" || true)
failed=$(grep -c '^FAIL[[:space:]]' "$out" || true)
echo "packages: $passed passed, $failed failed"
exit $status
