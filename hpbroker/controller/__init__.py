"""The node's controller: topic creation and deletion, partition counts, topic and broker config
changes, producer ids (the ``Controller`` of hpbroker/broker/interface.py).

- ``local``: ``LocalController``, this process is the controller: it writes the topic
  registry and has the replica manager open or remove the partitions; and ``NotController``,
  a process that is not the controller and has no way to reach it (NOT_CONTROLLER, as a Kafka
  broker answers a controller request sent to it);
- ``forwarding``: ``ForwardingController``, a process that asks the controller with Kafka's
  own requests (CreateTopics, DeleteTopics, ...) over a channel, and awaits its answers.

In a cluster the controller is a role one broker holds at a time (Kafka 2.8's ZooKeeper-mode
controller): ``kafka_controller`` (election, failover, the events), ``events`` (the queue),
``context`` (what it knows), ``states`` (the state machines' tables), ``partition_state_machine``
and ``replica_state_machine``, ``election`` (Kafka's election functions), ``topic_deletion``,
``request_batch`` (LeaderAndIsr, UpdateMetadata, StopReplica gathered and sent) and ``channel``
(a connection and a queue per broker). Topic changes reach it through ZooKeeper
(hpbroker/cluster/admin.py).
"""
