#!/bin/sh
# kafka-console-producer.sh: Kafka's script name for `strom console-producer`.
exec "$(dirname "$0")/strom" console-producer "$@"
