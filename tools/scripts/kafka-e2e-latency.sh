#!/bin/sh
# kafka-e2e-latency.sh: Kafka's script name for `strom e2e-latency`.
exec "$(dirname "$0")/strom" e2e-latency "$@"
