"""The cluster control plane: Kafka's ZooKeeper layout (zk_data), a client that reads and writes it
with Kafka's fencing rules (zk_client), and producer id blocks (producer_ids).
"""
