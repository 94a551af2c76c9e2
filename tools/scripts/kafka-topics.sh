#!/bin/sh
# kafka-topics.sh: Kafka's script name for `strom topics`.
exec "$(dirname "$0")/strom" topics "$@"
