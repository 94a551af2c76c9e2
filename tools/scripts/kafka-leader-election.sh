#!/bin/sh
# kafka-leader-election.sh: Kafka's script name for `strom leader-election`.
exec "$(dirname "$0")/strom" leader-election "$@"
