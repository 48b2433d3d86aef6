"""cleanup.policy reaches the partition logs: with "delete" in it retention applies, without it
(a "compact" topic such as __consumer_offsets) no segment is deleted by age or size."""
from hpbroker.config import BrokerConfig
from hpbroker.handlers.context import BrokerContext, Node


def test_cleanup_policy_reaches_the_partition_logs(tmp_path):
    broker = BrokerContext(BrokerConfig({"log.dirs": str(tmp_path)}), Node(0, "localhost", 9092))
    try:
        broker.create_topic("c", 2, {"cleanup.policy": "compact"})
        broker.create_topic("d", 1, {})
        assert [broker.partition("c", i).log.config.cleanup_delete for i in range(2)] == [False, False]
        assert broker.partition("d", 0).log.config.cleanup_delete is True
        broker.set_topic_configs("c", {"cleanup.policy": "compact,delete"})
        assert [broker.partition("c", i).log.config.cleanup_delete for i in range(2)] == [True, True]
        broker.set_topic_configs("d", {"cleanup.policy": "compact"})
        assert broker.partition("d", 0).log.config.cleanup_delete is False
    finally:
        broker.close()
