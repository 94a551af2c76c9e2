#!/usr/bin/env bash
# Installs the test dependencies that are missing on this machine:
# Debian packages for the real clients and ZooKeeper, and npm packages into
# .deps/node. Idempotent: present packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || need+=(python3-kafka)
/usr/bin/python3 -c 'import snappy' >/dev/null 2>&1 || need+=(python3-snappy)
/usr/bin/python3 -c 'import lz4.frame' >/dev/null 2>&1 || need+=(python3-lz4)
/usr/bin/python3 -c 'import zstandard' >/dev/null 2>&1 || need+=(python3-zstandard)
# node-gyp builds the native codecs of the kafkajs codec packages.
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)

if [ ${#need[@]} -gt 0 ]; then
	echo "test-deps: installing ${need[*]}"
	sudo_cmd=""
	[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
	$sudo_cmd apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f scripts/package.json ]; then
	mkdir -p .deps/node
	if ! cmp -s scripts/package.json .deps/node/package.json || [ ! -d .deps/node/node_modules ]; then
		echo "test-deps: npm install into .deps/node"
		cp scripts/package.json .deps/node/package.json
		(cd .deps/node && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	fi
fi
