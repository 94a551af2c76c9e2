#!/bin/sh
# kafka-get-offsets.sh: Kafka's script name for `strom get-offsets`.
exec "$(dirname "$0")/strom" get-offsets "$@"
