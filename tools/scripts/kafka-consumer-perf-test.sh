#!/bin/sh
# kafka-consumer-perf-test.sh: Kafka's script name for `strom consumer-perf-test`.
exec "$(dirname "$0")/strom" consumer-perf-test "$@"
