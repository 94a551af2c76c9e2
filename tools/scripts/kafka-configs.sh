#!/bin/sh
# kafka-configs.sh: Kafka's script name for `strom configs`.
exec "$(dirname "$0")/strom" configs "$@"
