#!/bin/sh
# kafka-log-dirs.sh: Kafka's script name for `strom log-dirs`.
exec "$(dirname "$0")/strom" log-dirs "$@"
