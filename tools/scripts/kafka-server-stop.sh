#!/bin/sh
# kafka-server-stop.sh: stops a broker started with kafka-server-start.sh
# -daemon, by the pid in $LOG_DIR/strom-server.pid, with SIGTERM (a clean
# shutdown), and waits up to 120 s for it to exit. Unlike Kafka's script
# it does not stop every broker process on the host, only that one.
bin=$(dirname "$0")
: "${LOG_DIR:=$bin/../logs}"
pidfile="$LOG_DIR/strom-server.pid"
pid=$(cat "$pidfile" 2>/dev/null)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
	echo "No kafka server to stop"
	rm -f "$pidfile"
	exit 1
fi
kill -s TERM "$pid" || exit 1
i=0
while kill -0 "$pid" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 1200 ]; then
		echo "Broker $pid did not stop within 120 s" >&2
		exit 1
	fi
	sleep 0.1
done
rm -f "$pidfile"
