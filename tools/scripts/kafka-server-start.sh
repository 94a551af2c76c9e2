#!/bin/sh
# kafka-server-start.sh: Kafka's script name for `strom server`.
#   kafka-server-start.sh [-daemon] server.properties [--override property=value]*
# -daemon runs the broker in the background, its output appended to
# $LOG_DIR/strom-server.out and its pid in $LOG_DIR/strom-server.pid
# (LOG_DIR defaults to the logs directory next to this script's directory),
# which kafka-server-stop.sh reads.
if [ $# -lt 1 ]; then
	echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
	exit 1
fi
bin=$(dirname "$0")
if [ "$1" = "-daemon" ]; then
	shift
	if [ $# -lt 1 ]; then
		echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
		exit 1
	fi
	: "${LOG_DIR:=$bin/../logs}"
	mkdir -p "$LOG_DIR" || exit 1
	nohup "$bin/strom" server "$@" >>"$LOG_DIR/strom-server.out" 2>&1 </dev/null &
	echo $! >"$LOG_DIR/strom-server.pid"
	exit 0
fi
exec "$bin/strom" server "$@"
