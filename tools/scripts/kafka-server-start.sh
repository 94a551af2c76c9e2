#!/bin/sh
# kafka-server-start.sh: Kafka's script name for `strom server`.
exec "$(dirname "$0")/strom" server "$@"
