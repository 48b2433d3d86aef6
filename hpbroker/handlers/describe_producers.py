"""DescribeProducers (key 61), version 0: the producers each partition remembers
(``kafka-transactions describe-producers``, AdminClient ``describeProducers``, KIP-664).

Per partition, as Kafka's ReplicaManager.activeProducerState: an unknown topic or partition is
UNKNOWN_TOPIC_OR_PARTITION; otherwise every producer id in the partition's producer state (the
ones whose sequence numbers it checks), by producer id: its epoch, the last sequence it
appended, the largest timestamp of its last batch, the coordinator epoch of its last marker and
the first offset of its open transaction (-1: none). In the multi-process mode each
handler answers for the partitions it owns and the processor joins the answers.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PARTITIONED, Route, Split
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 61
MIN_VERSION, MAX_VERSION = 0, 0
ROUTE = Route(PARTITIONED, Split("topics", "name", "partition_indexes", None, "topics", "name", "partitions"))


def handle(ctx: RequestContext, request: dict):
    rm = ctx.broker.replica_manager
    topics = []
    for t in request["topics"]:
        parts = []
        denied = not ctx.authorize(Operation.READ, ResourceType.TOPIC, t["name"])
        for index in t["partition_indexes"]:
            partition = rm.partition(t["name"], index)
            if denied:
                parts.append(
                    {
                        "partition_index": index,
                        "error_code": ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                        "error_message": None,
                        "active_producers": [],
                    }
                )
                continue
            if partition is None:
                parts.append(
                    {
                        "partition_index": index,
                        "error_code": rm.not_led_error(t["name"], index),
                        "error_message": None,
                        "active_producers": [],
                    }
                )
                continue
            producers = partition.producer_state.producers
            parts.append(
                {
                    "partition_index": index,
                    "error_code": 0,
                    "error_message": None,
                    "active_producers": [
                        {
                            "producer_id": e.producer_id,
                            "producer_epoch": e.epoch,
                            "last_sequence": e.last_seq,
                            "last_timestamp": e.last_timestamp,
                            "coordinator_epoch": e.coordinator_epoch,
                            "current_txn_start_offset": e.current_txn_first_offset,
                        }
                        for _, e in sorted(producers.items())
                    ],
                }
            )
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
