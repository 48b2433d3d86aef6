"""Tests of hpbroker.cluster: the ZooKeeper layout, client and producer id blocks."""
