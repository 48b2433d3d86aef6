"""Cluster metadata of a node: which topics exist, their partitions and config overrides."""
