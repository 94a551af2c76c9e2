#!/bin/sh
# kafka-producer-perf-test.sh: Kafka's script name for `strom producer-perf-test`.
exec "$(dirname "$0")/strom" producer-perf-test "$@"
