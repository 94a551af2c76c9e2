#!/usr/bin/python3
"""Round trip through kafka-python, driven by Strom's compat tests.

Usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC CODEC COUNT

Reads records as JSON lines on stdin ({"k": hex, "v": hex, "h": [[key,
hex], ...]}), produces them to TOPIC with KafkaProducer (acks=all, CODEC
compression, partition chosen by kafka-python's key partitioner), then
consumes COUNT records from every partition of TOPIC from the start with an
assign()-based KafkaConsumer (no group) and prints them as JSON lines on
stdout, with "p" (partition) and "o" (offset) added.

Exit status: 0 on success, 77 when this machine lacks the Python module
the codec needs (stderr names it), 1 on any other failure.
"""

import json
import sys
import time

SKIP = 77

# codec -> (kafka.codec probe, python module, Debian package)
CODEC_NEEDS = {
    "gzip": ("has_gzip", "gzip", "python3 (standard library)"),
    "snappy": ("has_snappy", "snappy", "python3-snappy"),
    "lz4": ("has_lz4", "lz4", "python3-lz4"),
    "zstd": ("has_zstd", "zstandard", "python3-zstandard"),
}

# A hang guard for each wait below; the Go test reports what was missing.
DEADLINE_SECONDS = 120


def main():
    bootstrap, topic, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    try:
        import kafka
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        from kafka import codec as kcodec
    except ImportError as e:
        print(f"kafka-python missing ({e}): run `make test-deps`", file=sys.stderr)
        return 1
    if codec != "none":
        probe, module, package = CODEC_NEEDS[codec]
        if not getattr(kcodec, probe)():
            print(f"kafka-python {kafka.__version__} cannot use {codec}: Python module "
                  f"'{module}' is missing (Debian package {package})", file=sys.stderr)
            return SKIP

    records = [json.loads(line) for line in sys.stdin if line.strip()]

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        compression_type=None if codec == "none" else codec,
        linger_ms=5,
        batch_size=32 * 1024,
    )
    futures = [
        producer.send(
            topic,
            key=bytes.fromhex(r["k"]),
            value=bytes.fromhex(r["v"]),
            headers=[(k, bytes.fromhex(v)) for k, v in r["h"]],
        )
        for r in records
    ]
    producer.flush(timeout=DEADLINE_SECONDS)
    for f in futures:
        f.get(timeout=DEADLINE_SECONDS)  # raises the produce error, if any
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        consumer.poll(timeout_ms=100)  # let metadata arrive
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        print(f"no partitions for {topic}", file=sys.stderr)
        return 1
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()

    got = 0
    out = sys.stdout
    while got < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
            for m in batch:
                out.write(json.dumps({
                    "p": m.partition,
                    "o": m.offset,
                    "k": m.key.hex(),
                    "v": m.value.hex(),
                    "h": [[k, v.hex()] for k, v in m.headers],
                }) + "\n")
                got += 1
    consumer.close()
    if got < count:
        print(f"consumed {got} of {count} records before the deadline", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
