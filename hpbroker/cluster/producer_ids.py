"""Producer ids for InitProducerId in a cluster: blocks of 1000 claimed from ZooKeeper.

Every broker hands out ids from the block it last claimed; when the block runs out it claims
the next one with a compare-and-set on /latest_producer_id_block (KafkaZkClient.
claim_producer_id_block), so no id is ever handed out twice in the cluster, even across broker
restarts (a restart claims a fresh block and skips the rest of the old one, as Kafka does).

Who may touch: any thread (a lock guards the block); a claim blocks on ZooKeeper, so an asyncio
caller runs ``generate_producer_id`` in an executor.
"""

from __future__ import annotations

import threading

from hpbroker.cluster.zk_data import ProducerIdBlock


class ProducerIdManager:
    def __init__(self, broker_id: int, zk):
        self.broker_id = broker_id
        self._zk = zk
        self._lock = threading.Lock()
        self._block: ProducerIdBlock | None = None
        self._next = 0

    def generate_producer_id(self) -> int:
        with self._lock:
            if self._block is None or self._next > self._block.block_end:
                self._block = self._zk.claim_producer_id_block(self.broker_id)
                self._next = self._block.block_start
            producer_id = self._next
            self._next += 1
            return producer_id
