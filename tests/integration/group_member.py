"""A confluent-kafka group member run as its own process, so a test can SIGKILL it.

    python group_member.py BOOTSTRAP TOPIC GROUP SESSION_MS

Prints ``ASSIGNED p,p,...`` (sorted partitions) whenever its assignment changes.
"""

import sys

from confluent_kafka import Consumer


def main():
    bootstrap, topic, group, session_ms = sys.argv[1:5]
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "session.timeout.ms": int(session_ms),
            "heartbeat.interval.ms": 200,
            "max.poll.interval.ms": 10000,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    c.subscribe([topic])
    last = None
    while True:
        c.poll(0.05)
        owned = sorted(tp.partition for tp in c.assignment())
        if owned != last:
            last = owned
            print("ASSIGNED " + ",".join(map(str, owned)), flush=True)


if __name__ == "__main__":
    main()
