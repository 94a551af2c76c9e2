#!/bin/sh
# kafka-console-consumer.sh: Kafka's script name for `strom console-consumer`.
exec "$(dirname "$0")/strom" console-consumer "$@"
