"""A broker's side of a cluster on ZooKeeper.

- ``zk_data``: Kafka's ZooKeeper layout (paths, and the JSON in them);
- ``zk_session``, ``zk_client``: a session and Kafka's reads and writes, with its fencing rules;
- ``async_zk``: those blocking calls awaited from the broker's event loop;
- ``member``: the broker's session, registration (broker epoch), cluster id, the controller it
  may become, and the controlled shutdown it asks for;
- ``admin``: ``ZkAdmin``, the broker's ``Controller`` in a cluster: topic and config changes
  written as Kafka's AdminZkClient writes them;
- ``config_sync``: dynamic configs followed through /config/changes (Kafka's
  DynamicConfigManager);
- ``placement``: where new replicas go (Kafka's AdminUtils);
- ``producer_ids``: producer ids from blocks claimed in ZooKeeper;
- ``broker_client``: one connection to another broker, for the requests brokers send each other.

The controller itself is hpbroker/controller/kafka_controller.py.
"""
