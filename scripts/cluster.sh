#!/usr/bin/env bash
# make cluster: a local Strom cluster the way Kafka's quickstart sets one up.
#
# Starts a 3-node ZooKeeper ensemble (Debian's zookeeper package, installed
# if missing; client ports 2181-2183 on 127.0.0.1) and three brokers:
# config/server.properties (broker 0, :9092, pointed at the ensemble with
# --override), config/server-1.properties (:9093) and
# config/server-2.properties (:9094). Prints where everything listens,
# streams every log with a prefix, and stops everything on Ctrl-C.
#
# Data lives under $STROM_CLUSTER_DIR (default /tmp/strom-cluster for
# ZooKeeper; the brokers use their configured log.dirs). Remove it to start
# from scratch: rm -rf /tmp/strom-cluster /tmp/strom-logs /tmp/strom-logs-[12]
set -euo pipefail
cd "$(dirname "$0")/.."

ZK_JAR=/usr/share/java/zookeeper.jar
DIR=${STROM_CLUSTER_DIR:-/tmp/strom-cluster}
CONNECT=localhost:2181,localhost:2182,localhost:2183

if [ ! -f "$ZK_JAR" ]; then
	echo "cluster: installing Debian's zookeeper package"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
fi
command -v java >/dev/null || { echo "cluster: java is needed for ZooKeeper" >&2; exit 1; }
make -s build

pids=()
stop() {
	trap - INT TERM EXIT
	echo "cluster: stopping"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "cluster: stopped"
}
trap stop INT TERM EXIT

# prefix NAME: copies stdin to stdout with "[NAME] " before each line.
prefix() { while IFS= read -r line; do printf '[%s] %s\n' "$1" "$line"; done; }

cp=""
[ -f /usr/share/java/slf4j-simple.jar ] && cp=":/usr/share/java/slf4j-simple.jar"
for n in 1 2 3; do
	d="$DIR/zk-$n"
	mkdir -p "$d/data"
	echo "$n" > "$d/data/myid"
	cat > "$d/zoo.cfg" <<-EOF
		tickTime=500
		initLimit=20
		syncLimit=10
		dataDir=$d/data
		clientPort=$((2180 + n))
		clientPortAddress=127.0.0.1
		admin.enableServer=false
		4lw.commands.whitelist=*
		server.1=127.0.0.1:2888:3888
		server.2=127.0.0.1:2889:3889
		server.3=127.0.0.1:2890:3890
	EOF
	java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$d:$ZK_JAR$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
		> >(prefix "zk-$n") 2>&1 &
	pids+=($!)
done

# Wait until the ensemble has a leader (one node answers "Mode: leader").
for _ in $(seq 1 120); do
	if for p in 2181 2182 2183; do { exec 3<>/dev/tcp/127.0.0.1/$p && echo srvr >&3 && cat <&3; } 2>/dev/null; done | grep -q "Mode: leader"; then
		break
	fi
	sleep 0.5
done

bin/strom server config/server.properties --override "zookeeper.connect=$CONNECT" \
	--override offsets.topic.replication.factor=3 > >(prefix broker-0) 2>&1 &
pids+=($!)
for n in 1 2; do
	bin/strom server "config/server-$n.properties" > >(prefix "broker-$n") 2>&1 &
	pids+=($!)
done

cat <<EOF
cluster: ZooKeeper ensemble at $CONNECT
cluster: brokers 0, 1, 2 at localhost:9092, localhost:9093, localhost:9094
cluster: try  bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic test --partitions 6 --replication-factor 1
cluster: Ctrl-C stops everything
EOF
wait -n "${pids[@]}" || true
echo "cluster: a process exited; stopping the rest"
