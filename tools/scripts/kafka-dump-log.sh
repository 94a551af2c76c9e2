#!/bin/sh
# kafka-dump-log.sh: Kafka's script name for `strom dump-log`.
exec "$(dirname "$0")/strom" dump-log "$@"
