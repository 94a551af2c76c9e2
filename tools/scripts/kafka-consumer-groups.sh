#!/bin/sh
# kafka-consumer-groups.sh: Kafka's script name for `strom consumer-groups`.
exec "$(dirname "$0")/strom" consumer-groups "$@"
