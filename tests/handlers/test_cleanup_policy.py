"""cleanup.policy reaches the partition logs: with "delete" in it retention applies, without it
(a "compact" topic such as __consumer_offsets) no segment is deleted by age or size."""


def test_cleanup_policy_reaches_the_partition_logs(harness):
    harness.create_topic("c", 2, {"cleanup.policy": "compact"})
    harness.create_topic("d", 1)
    assert [harness.partition("c", i).log.config.cleanup_delete for i in range(2)] == [False, False]
    assert harness.partition("d", 0).log.config.cleanup_delete is True
    controller = harness.broker.controller
    harness.run(controller.set_topic_configs("c", {"cleanup.policy": "compact,delete"}))
    assert [harness.partition("c", i).log.config.cleanup_delete for i in range(2)] == [True, True]
    harness.run(controller.set_topic_configs("d", {"cleanup.policy": "compact"}))
    assert harness.partition("d", 0).log.config.cleanup_delete is False
