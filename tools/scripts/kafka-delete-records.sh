#!/bin/sh
# kafka-delete-records.sh: Kafka's script name for `strom delete-records`.
exec "$(dirname "$0")/strom" delete-records "$@"
