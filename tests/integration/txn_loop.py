"""A consume-transform-produce loop with exactly-once semantics, run as its own process so a
test can SIGKILL it: each batch read from INPUT becomes records of OUTPUT (the value with
"-out" appended, in the same partition) and the consumer's positions, in one transaction.

    python txn_loop.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID

Transactions are small (at most 10 records) and paced (PAUSE_S after each), so a kill lands
in the middle of the stream.

A restarted loop (same transactional id and static group member) fences the killed one's
transaction and starts from the offsets committed with the last committed transaction.
Prints ``COMMITTED n`` after each transaction.
"""

import sys
import time

from confluent_kafka import Consumer, Producer

PAUSE_S = 0.05


def main():
    bootstrap, source, sink, group, txn_id = sys.argv[1:6]
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.instance.id": txn_id,
            "session.timeout.ms": 6000,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5})
    producer.init_transactions(30)
    consumer.subscribe([source])
    total = 0
    while True:
        msgs = [m for m in consumer.consume(10, 0.2) if m.error() is None]
        if not msgs:
            continue
        producer.begin_transaction()
        for m in msgs:
            producer.produce(sink, m.value() + b"-out", partition=m.partition())
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30
        )
        producer.commit_transaction(30)
        total += len(msgs)
        print(f"COMMITTED {total}", flush=True)
        time.sleep(PAUSE_S)


if __name__ == "__main__":
    main()
