#!/usr/bin/env python3
"""Consume as a consumer group through kafka-python, for Strom's compat tests.

Usage: kafka_python_group.py BOOTSTRAP TOPIC GROUP COUNT

Joins GROUP with KafkaConsumer(group_id=GROUP, subscribed to TOPIC,
auto_offset_reset=earliest, auto-commit off), reads COUNT records, prints
each value (UTF-8) on its own line, then commits synchronously and closes
(leaving the group). Exit status 0 on success, 1 on failure.
"""

import sys
import time

DEADLINE_SECONDS = 120


def main():
    bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="kafka-python-group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    got = 0
    while got < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=count - got).values():
            for m in batch:
                sys.stdout.write(m.value.decode() + "\n")
                got += 1
    if got < count:
        print(f"consumed {got} of {count} records before the deadline", file=sys.stderr)
        return 1
    consumer.commit()
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
