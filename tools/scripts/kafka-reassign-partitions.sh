#!/bin/sh
# kafka-reassign-partitions.sh: Kafka's script name for `strom reassign-partitions`.
exec "$(dirname "$0")/strom" reassign-partitions "$@"
