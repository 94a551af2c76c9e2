#!/bin/sh
# kafka-run-class.sh CLASS [options]: runs the strom command doing the job
# of Kafka's CLASS (kafka.tools.DumpLogSegments, kafka.tools.GetOffsetShell, ...).
exec "$(dirname "$0")/strom" run-class "$@"
