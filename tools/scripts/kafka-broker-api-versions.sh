#!/bin/sh
# kafka-broker-api-versions.sh: Kafka's script name for `strom broker-api-versions`.
exec "$(dirname "$0")/strom" broker-api-versions "$@"
