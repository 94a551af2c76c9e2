#!/bin/sh
# zookeeper-shell.sh: Kafka's script name for `strom zookeeper-shell`.
exec "$(dirname "$0")/strom" zookeeper-shell "$@"
